// cpp_throw.cc linked with tcmalloc, whose operator new is its own.
#include "cpp_throw.cc"
