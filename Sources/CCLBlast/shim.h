// CLBlast's C API (Debian's libclblast-dev): the OpenCL backend's matrix products.
#define CL_TARGET_OPENCL_VERSION 120
#include <clblast_c.h>
