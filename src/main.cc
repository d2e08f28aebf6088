#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "src/check.h"
#include "src/mount.h"
#include "src/version.h"

namespace {

constexpr const char* kUsage =
    "usage: smbgate COMMAND ...\n"
    "  smbgate mount //HOST[:PORT]/SHARE[/SUBDIR] MOUNTPOINT --credentials PATH [--config FILE]\n"
    "                [-o OPTIONS] [--foreground]\n"
    "  smbgate check //HOST[:PORT]/SHARE --credentials PATH [--vers V] [--timeout S] [--seal]\n"
    "                [--spn SPN]\n"
    "  smbgate --version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("smbgate %s\n", smbgate::Version());
    return 0;
  }
  if (args[0] == "mount") {
    // Request buffers (up to 1 MiB each) are allocated and freed on several
    // threads: two malloc arenas rather than one per thread keep the memory
    // they reuse together (8 writers at once: a peak of 57 MiB, not 103).
    // The FUSE layer gives it back after a burst of writes (malloc_trim).
    mallopt(M_ARENA_MAX, 2);
    // Fixed thresholds (glibc raises both as big blocks are freed, after
    // which memory freed at the top of a thread's arena is never given
    // back: 27 MiB held after a million-entry listing was let go): request
    // buffers of up to 1 MiB stay in the heap, where they are reused, and
    // a heap top of more than 8 MiB goes back to the system as it is freed.
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    args.erase(args.begin());
    return smbgate::RunMount(args);
  }
  if (args[0] == "check") {
    args.erase(args.begin());
    return smbgate::RunCheck(args, std::cout, std::cerr);
  }
  std::fprintf(stderr, "smbgate: unknown command %s\n%s", args[0].c_str(), kUsage);
  return 2;
}
