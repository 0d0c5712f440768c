// Only zstd's stable API is used (ZSTD_compress, ZSTD_compressBound, ZSTD_decompress,
// ZSTD_getFrameContentSize, ZSTD_isError, ZSTD_getErrorName), so ZSTD_STATIC_LINKING_ONLY
// stays undefined: zstd.h tests it with #ifdef, and any definition, even 0, would expose
// the experimental API, whose signatures may change between zstd releases.
#include <zstd.h>
