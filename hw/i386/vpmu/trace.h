#include "trace/trace-hw_i386_vpmu.h"
