// Debian's float flavour of KissFFT (libkissfft-float). Its pkg-config file defines
// kiss_fft_scalar=float, a flag SwiftPM refuses from system libraries, so it is defined here
// and the headers are included by their kissfft/ directory instead.
#ifndef kiss_fft_scalar
#define kiss_fft_scalar float
#endif
#include <kissfft/kiss_fft.h>
#include <kissfft/kiss_fftr.h>
