/*
 * qemu-vpmu: the register-model fuzzer's halves
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VPMU_MODEL_FUZZ_H
#define VPMU_MODEL_FUZZ_H

/*
 * Run one input (what follows vpmu-model-fuzz.c's selector byte) through
 * an AMD PMU (vpmu-model-fuzz-amd.c).
 */
void vpmu_fuzz_amd(const uint8_t *data, size_t size);

#endif
