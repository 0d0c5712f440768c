// OpenCL 1.2 through the ICD loader (Debian's ocl-icd-opencl-dev + opencl-headers).
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
