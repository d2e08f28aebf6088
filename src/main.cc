#include <cstdio>
#include <cstring>

#include "src/version.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("smbgate %s\n", smbgate::Version());
    return 0;
  }
  std::fprintf(stderr, "usage: smbgate check //HOST[:PORT]/SHARE --credentials PATH\n");
  return 2;
}
