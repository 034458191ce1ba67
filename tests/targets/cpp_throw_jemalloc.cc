// cpp_throw.cc linked with jemalloc, whose operator new is its own.
#include "cpp_throw.cc"
