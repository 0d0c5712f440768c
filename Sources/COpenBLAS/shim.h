// OpenBLAS's cblas.h (found through pkg-config `openblas`) also declares
// openblas_set_num_threads, which the engine uses to keep small products on one thread.
#include <cblas.h>
