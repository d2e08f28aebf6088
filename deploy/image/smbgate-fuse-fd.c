// smbgate-fuse-fd: receives an already-mounted /dev/fuse descriptor from a node-level helper
// over a unix socket, then runs a program (smbgate mount ... /dev/fd/N) with it, so that
// neither this program nor smbgate needs any privilege. It is the container side of the
// chart's `mode: fdpassing`; the helper (a privileged DaemonSet) is not part of smbgate.
//
//   smbgate-fuse-fd --socket PATH --volume NAME [--fd N] [--ro] [--timeout SECONDS]
//                   -- PROGRAM [ARG]...
//
// Protocol (version 1), over a SOCK_STREAM unix socket:
//   request  one line: "SMBGATE-FUSE-FD 1 volume=NAME[ ro]\n". NAME is the pod's emptyDir
//            volume to mount on. The helper must not trust anything else the client could
//            claim: it takes the peer's pid, uid and gid from SO_PEERCRED and the pod from the
//            pid's cgroup, and mounts on that pod's volume directory only
//            (KUBELET_ROOT/pods/POD_UID/volumes/kubernetes.io~empty-dir/NAME), with
//            "fd=F,rootmode=40000,user_id=UID,group_id=GID,allow_other[,ro]".
//   reply    one line, "OK\n" carrying exactly one descriptor (SCM_RIGHTS) with its first
//            byte, or "ERR reason\n".
//   then     the connection stays open for the life of the mount: this program keeps it across
//            exec, so the helper reads end-of-file when the daemon exits (or dies) and then
//            detaches the mount (umount2 MNT_DETACH), and no dead mount is left behind.
//
// The helper may start after the pod: connecting is retried once a second up to --timeout
// seconds. Exit status: 2 for usage errors, 1 for any other failure (one line on stderr),
// else that of PROGRAM, which replaces this process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char kMe[] = "smbgate-fuse-fd";

static void Usage(void) {
  fprintf(stderr,
          "usage: %s --socket PATH --volume NAME [--fd N] [--ro] [--timeout SECONDS]"
          " -- PROGRAM [ARG]...\n",
          kMe);
  exit(2);
}

static void Die(const char* what, int err) {
  if (err != 0) {
    fprintf(stderr, "%s: %s: %s\n", kMe, what, strerror(err));
  } else {
    fprintf(stderr, "%s: %s\n", kMe, what);
  }
  exit(1);
}

static long ParseNumber(const char* s, long min, long max, const char* flag) {
  char* end = NULL;
  errno = 0;
  const long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "%s: %s %s: not a number from %ld to %ld\n", kMe, flag, s, min, max);
    exit(2);
  }
  return v;
}

// A volume name is a Kubernetes DNS label: it must not carry a space or a slash into the
// request line or the helper's path.
static int ValidVolume(const char* s) {
  const size_t n = strlen(s);
  if (n == 0 || n > 63) return 0;
  for (size_t i = 0; i < n; i++) {
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
  }
  return 1;
}

// Fills `addr` for `path`. A path longer than sun_path (a kubelet pod directory easily is)
// is reached through its directory, opened into *dirfd: /proc/self/fd/N/NAME. Returns 0, or
// the errno of opening the directory (ENOENT while it does not exist yet).
static int Address(const char* path, struct sockaddr_un* addr, int* dirfd) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  *dirfd = -1;
  if (strlen(path) < sizeof addr->sun_path) {
    strcpy(addr->sun_path, path);
    return 0;
  }
  const char* slash = strrchr(path, '/');
  if (slash == NULL || slash[1] == '\0') Die("--socket: path too long", 0);
  char dir[4096];
  const size_t dlen = slash == path ? 1 : (size_t)(slash - path);
  if (dlen >= sizeof dir) Die("--socket: path too long", 0);
  memcpy(dir, path, dlen);
  dir[dlen] = '\0';
  *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0) return errno;
  const int n = snprintf(addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s", *dirfd,
                         slash + 1);
  if (n < 0 || (size_t)n >= sizeof addr->sun_path) Die("--socket: file name too long", 0);
  return 0;
}

// Connects, retrying while the socket is missing or refuses, until `timeout` seconds passed.
static int Connect(const char* path, long timeout) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int logged = 0;
  for (;;) {
    struct sockaddr_un addr;
    int dirfd = -1;
    int err = Address(path, &addr, &dirfd);
    if (err == 0) {
      const int s = socket(AF_UNIX, SOCK_STREAM, 0);  // no CLOEXEC: PROGRAM inherits it
      if (s < 0) Die("socket", errno);
      const int rc = connect(s, (struct sockaddr*)&addr, sizeof addr);
      err = errno;
      if (dirfd >= 0) close(dirfd);
      if (rc == 0) return s;
      close(s);
    }
    if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN) Die(path, err);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout) {
      fprintf(stderr,
              "%s: %s: %s after %ld s (is the node helper running on this node?)\n", kMe,
              path, strerror(err), timeout);
      exit(1);
    }
    if (!logged) {
      fprintf(stderr, "%s: waiting for the node helper at %s\n", kMe, path);
      logged = 1;
    }
    sleep(1);
  }
}

static void SendAll(int s, const char* buf, size_t n) {
  while (n > 0) {
    const ssize_t w = send(s, buf, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      Die("sending the request", errno);
    }
    buf += w;
    n -= (size_t)w;
  }
}

// Reads the reply line; returns the descriptor that came with it, or -1.
static int ReadReply(int s, char* line, size_t cap) {
  int fd = -1;
  size_t len = 0;
  while (len + 1 < cap) {
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov = {line + len, 1};  // one byte a time: never read past the line
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    const ssize_t r = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0) {
      if (errno == EINTR) continue;
      Die("reading the helper's reply", errno);
    }
    if (r == 0) Die("the helper closed the connection without a reply", 0);
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[4];
      memcpy(fds, CMSG_DATA(c), n * sizeof(int));
      for (size_t i = 0; i < n; i++) {
        if (fd < 0) {
          fd = fds[i];
        } else {
          close(fds[i]);
          Die("the helper sent more than one descriptor", 0);
        }
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) Die("the helper sent too many descriptors", 0);
    if (line[len] == '\n') {
      line[len] = '\0';
      return fd;
    }
    len++;
  }
  Die("the helper's reply is too long", 0);
  return -1;
}

int main(int argc, char** argv) {
  const char* socket_path = NULL;
  const char* volume = NULL;
  long target_fd = 3;
  long timeout = 60;
  int ro = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--ro") == 0) {
      ro = 1;
      continue;
    }
    if (i + 1 >= argc) Usage();
    if (strcmp(a, "--socket") == 0) {
      socket_path = argv[++i];
    } else if (strcmp(a, "--volume") == 0) {
      volume = argv[++i];
    } else if (strcmp(a, "--fd") == 0) {
      target_fd = ParseNumber(argv[++i], 3, 255, "--fd");
    } else if (strcmp(a, "--timeout") == 0) {
      timeout = ParseNumber(argv[++i], 0, 86400, "--timeout");
    } else {
      fprintf(stderr, "%s: unknown option %s\n", kMe, a);
      Usage();
    }
  }
  if (socket_path == NULL || volume == NULL || i >= argc) Usage();
  if (!ValidVolume(volume)) {
    fprintf(stderr, "%s: --volume %s: not a volume name (lower-case letters, digits, -)\n",
            kMe, volume);
    exit(2);
  }

  int s = Connect(socket_path, timeout);
  // Keep the connection clear of the descriptor number PROGRAM is told about.
  if (s <= target_fd) {
    const int moved = fcntl(s, F_DUPFD, (int)target_fd + 1);
    if (moved < 0) Die("fcntl", errno);
    close(s);
    s = moved;
  }
  char request[128];
  const int n = snprintf(request, sizeof request, "SMBGATE-FUSE-FD 1 volume=%s%s\n", volume,
                         ro ? " ro" : "");
  SendAll(s, request, (size_t)n);

  char reply[512];
  const int fd = ReadReply(s, reply, sizeof reply);
  if (strncmp(reply, "ERR", 3) == 0) {
    if (fd >= 0) close(fd);
    fprintf(stderr, "%s: the helper refused: %s\n", kMe, reply[3] ? reply + 4 : "(no reason)");
    return 1;
  }
  if (strcmp(reply, "OK") != 0) Die("the helper's reply is neither OK nor ERR", 0);
  if (fd < 0) Die("the helper replied OK without a descriptor", 0);

  if (fd != target_fd) {
    if (dup2(fd, (int)target_fd) < 0) Die("dup2", errno);
    close(fd);
  } else if (fcntl(fd, F_SETFD, 0) < 0) {
    Die("fcntl", errno);
  }
  fprintf(stderr, "%s: got the mounted /dev/fuse descriptor for volume %s as fd %ld\n", kMe,
          volume, target_fd);
  execvp(argv[i], argv + i);
  fprintf(stderr, "%s: %s: %s\n", kMe, argv[i], strerror(errno));
  return 1;
}
