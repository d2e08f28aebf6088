#include "src/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>

namespace smbgate {
namespace {

class CredentialsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "credentials"; }
  std::string message(int ev) const override {
    switch (static_cast<credentials_errc>(ev)) {
      case credentials_errc::not_found:
        return "credentials not found";
      case credentials_errc::unreadable:
        return "credentials cannot be read";
      case credentials_errc::too_large:
        return "credentials file too large";
      case credentials_errc::invalid_utf8:
        return "credentials are not valid UTF-8 text";
      case credentials_errc::missing_username:
        return "credentials have no user name";
      case credentials_errc::missing_password:
        return "credentials have no password";
      case credentials_errc::empty_username:
        return "credentials have an empty user name";
      case credentials_errc::domain_conflict:
        return "credentials name two different domains";
      case credentials_errc::malformed:
        return "malformed credentials";
    }
    return "unknown credentials error";
  }
};

constexpr std::string_view kPathHint =
    "give --credentials a Secret directory or a mount.cifs-style file";
constexpr std::string_view kSecretKeysHint =
    "the Secret needs the keys username and password, and optionally domain";

// strerror() text, lower-cased like the rest of the message. The system
// category uses strerror_r, so this is thread-safe.
std::string ErrnoText(int err) {
  std::string s = std::system_category().message(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z')
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
// U+10FFFF. A NUL byte is refused too: no user name or password holds one,
// and it would be cut by every C API on the way.
bool IsValidText(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (len > n - i) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool HasControlChar(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The contents of one small file, in a buffer wiped when freed (the same
// reader serves the password and the other files).
struct FileData {
  SecretBytes buf;
  std::size_t size = 0;
  mode_t mode = 0;
  std::string_view view() const {
    return {reinterpret_cast<const char*>(buf.data()), size};
  }
};

// A failure on the way: its kind and the operator's one-line message.
struct Failure {
  credentials_errc code;
  std::string message;
};

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads the file `name` relative to `dirfd` (or an absolute/cwd-relative
// path with AT_FDCWD). `shown` is the path used in messages. O_NONBLOCK keeps
// a FIFO planted at the path from hanging the open; only regular files are
// read. The size is bounded both by fstat and while reading (a file can grow
// between the two, and /proc-like files report size 0).
std::optional<Failure> ReadSmallFile(int dirfd, const char* name,
                                     const std::string& shown, FileData* out,
                                     int* open_errno) {
  *open_errno = 0;
  Fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    const int err = errno;
    *open_errno = err;
    if (err == ENOENT) {
      return Failure{credentials_errc::not_found,
                     shown + ": no such file or directory"};
    }
    if (err == EACCES) {
      return Failure{credentials_errc::unreadable,
                     shown + ": permission denied (make it readable by uid " +
                         std::to_string(::geteuid()) +
                         ", the user smbgate runs as)"};
    }
    return Failure{credentials_errc::unreadable, shown + ": " + ErrnoText(err)};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Failure{credentials_errc::unreadable,
                   shown + ": " + ErrnoText(errno)};
  }
  if (!S_ISREG(st.st_mode)) {
    return Failure{
        credentials_errc::unreadable,
        shown + ": not a regular file (" + std::string(kPathHint) + ")"};
  }
  const std::string too_large = shown + ": larger than " +
                                std::to_string(kMaxCredentialsFileSize / 1024) +
                                " KiB, not a credentials file (" +
                                std::string(kPathHint) + ")";
  if (st.st_size > static_cast<off_t>(kMaxCredentialsFileSize)) {
    return Failure{credentials_errc::too_large, too_large};
  }
  // One spare byte tells "exactly at the limit" from "over it".
  out->buf = SecretBytes(kMaxCredentialsFileSize + 1);
  out->size = 0;
  out->mode = st.st_mode;
  while (out->size < out->buf.size()) {
    const ssize_t r = ::read(fd.get(), out->buf.data() + out->size,
                             out->buf.size() - out->size);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Failure{credentials_errc::unreadable,
                     shown + ": " + ErrnoText(errno)};
    }
    if (r == 0) break;
    out->size += static_cast<std::size_t>(r);
  }
  if (out->size > kMaxCredentialsFileSize)
    return Failure{credentials_errc::too_large, too_large};
  return std::nullopt;
}

// True if `dirfd` holds the kubelet's `..data` symlink: the AtomicWriter
// layout of Secret, ConfigMap and projected volumes. There the kubelet sets
// the file mode (0644 unless the pod asks for defaultMode), so a loose mode
// is not the operator's doing in a file they can chmod.
bool IsKubernetesVolume(int dirfd) {
  struct stat st {};
  return ::fstatat(dirfd, "..data", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISLNK(st.st_mode);
}

std::string Dirname(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& dir, std::string_view name) {
  std::string p = dir;
  if (p.empty() || p.back() != '/') p += '/';
  p += name;
  return p;
}

std::string LooseModeWarning(const std::string& shown, mode_t mode) {
  return "credentials: " + shown + " is readable by group or others (mode " +
         ModeText(mode) + "); run `chmod 600 " + shown +
         "` so only smbgate's user can read the password";
}

// The user name and domain as found, before splitting, and where each came
// from (a file, or a line of a file) for messages.
struct RawCredentials {
  std::string user_full;
  std::string user_source;
  std::optional<std::string> domain;
  std::string domain_source;
};

// The checks both forms share, then the split of the user name.
std::optional<Failure> Finish(RawCredentials raw, const std::string& path,
                              Credentials* out,
                              std::vector<std::string>* warnings) {
  if (HasControlChar(raw.user_full)) {
    return Failure{
        credentials_errc::malformed,
        raw.user_source +
            ": the user name contains a line break or control character "
            "(store the name alone, at most one trailing newline)"};
  }
  if (raw.domain && HasControlChar(*raw.domain)) {
    return Failure{
        credentials_errc::malformed,
        raw.domain_source +
            ": the domain contains a line break or control character "
            "(store the name alone, at most one trailing newline)"};
  }
  if (raw.user_full.empty()) {
    return Failure{credentials_errc::empty_username,
                   raw.user_source +
                       ": the user name is empty (set it to USER, DOMAIN\\USER "
                       "or USER@DOMAIN)"};
  }
  std::string user, user_domain;
  if (!SplitUserName(raw.user_full, &user, &user_domain)) {
    return Failure{
        credentials_errc::empty_username,
        raw.user_source + ": '" + raw.user_full +
            "' has an empty user or domain part (use USER, DOMAIN\\USER or "
            "USER@DOMAIN)"};
  }
  std::string domain = raw.domain.value_or("");
  if (!user_domain.empty()) {
    if (!domain.empty() && !EqualsIgnoreAsciiCase(domain, user_domain)) {
      return Failure{credentials_errc::domain_conflict,
                     raw.user_source + " gives domain '" + user_domain +
                         "' but " + raw.domain_source + " gives '" + domain +
                         "' (give the domain in one place only)"};
    }
    domain = user_domain;
  }
  if (user.front() == ' ' || user.back() == ' ' ||
      (!domain.empty() && (domain.front() == ' ' || domain.back() == ' '))) {
    if (warnings) {
      warnings->push_back(
          "credentials: " + path +
          ": the user name or domain starts or ends with a space; check that "
          "this is intended");
    }
  }
  // user@domain is a user principal name: sent whole, with no domain, as
  // Windows clients send one in NTLM. The DC finds the account by it, so a
  // UPN whose suffix is not the domain's name (an alternative UPN suffix of
  // the forest) or whose user part is not the account name works too.
  if (raw.user_full.find_first_of("\\/") == std::string::npos && raw.user_full.find('@') != std::string::npos) {
    user = raw.user_full;
    domain.clear();
  }
  out->user = std::move(user);
  out->domain = std::move(domain);
  return std::nullopt;
}

// Removes one trailing "\n" or "\r\n": `echo pw > password` and `kubectl
// create secret --from-file` of such a file leave one. Nothing else is
// trimmed: spaces may be part of a password.
std::string_view StripOneNewline(std::string_view s) {
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\r\n")
    return s.substr(0, s.size() - 2);
  if (!s.empty() && s.back() == '\n') return s.substr(0, s.size() - 1);
  return s;
}

std::optional<Failure> LoadFromDirectory(const std::string& path, int dirfd,
                                         Credentials* out,
                                         std::vector<std::string>* warnings) {
  // The kubelet updates a Secret by writing a new timestamped directory and
  // renaming `..data` onto a symlink to it. Opening `..data` once and reading
  // every file relative to it gives one consistent snapshot: a password and
  // user name from two different versions of the Secret are never mixed.
  const bool kube = IsKubernetesVolume(dirfd);
  int snapshot = dirfd;
  std::optional<Fd> data_fd;
  if (kube) {
    data_fd.emplace(
        ::openat(dirfd, "..data", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (data_fd->get() < 0) {
      return Failure{credentials_errc::unreadable,
                     JoinPath(path, "..data") + ": " + ErrnoText(errno)};
    }
    snapshot = data_fd->get();
  }

  struct Entry {
    const char* name;
    bool required;
    credentials_errc missing;
    FileData data;
    bool present = false;
  };
  Entry entries[] = {{"username", true, credentials_errc::missing_username, {}},
                     {"password", true, credentials_errc::missing_password, {}},
                     {"domain", false, credentials_errc::not_found, {}}};
  for (Entry& e : entries) {
    const std::string shown = JoinPath(path, e.name);
    int open_errno = 0;
    if (auto f = ReadSmallFile(snapshot, e.name, shown, &e.data, &open_errno)) {
      if (open_errno == ENOENT) {
        if (!e.required) continue;
        return Failure{e.missing, path + ": no '" + e.name + "' file (" +
                                      std::string(kSecretKeysHint) + ")"};
      }
      return f;
    }
    e.present = true;
    if (!IsValidText(e.data.view())) {
      return Failure{
          credentials_errc::invalid_utf8,
          shown +
              ": not valid UTF-8 text or holds a NUL byte (save it as UTF-8)"};
    }
  }
  const Entry& user = entries[0];
  const Entry& password = entries[1];
  const Entry& domain = entries[2];

  if (!kube && (password.data.mode & 077) != 0 && warnings) {
    warnings->push_back(
        LooseModeWarning(JoinPath(path, "password"), password.data.mode));
  }

  RawCredentials raw;
  raw.user_full = std::string(StripOneNewline(user.data.view()));
  raw.user_source = JoinPath(path, "username");
  if (domain.present) {
    raw.domain = std::string(StripOneNewline(domain.data.view()));
    raw.domain_source = JoinPath(path, "domain");
  }
  if (auto f = Finish(std::move(raw), path, out, warnings)) return f;
  out->password = SecretString(StripOneNewline(password.data.view()));
  return std::nullopt;
}

enum class Key { kUser, kPassword, kDomain, kUnknown };

// The keys mount.cifs(8) documents for its credentials file, and the short
// forms it accepts (it matches by prefix; an exact list is less surprising).
Key ClassifyKey(std::string_view k) {
  for (std::string_view u : {"username", "user"}) {
    if (EqualsIgnoreAsciiCase(k, u)) return Key::kUser;
  }
  for (std::string_view p : {"password", "pass", "passwd"}) {
    if (EqualsIgnoreAsciiCase(k, p)) return Key::kPassword;
  }
  for (std::string_view d : {"domain", "dom", "workgroup"}) {
    if (EqualsIgnoreAsciiCase(k, d)) return Key::kDomain;
  }
  return Key::kUnknown;
}

std::optional<Failure> LoadFromFile(const std::string& path, Credentials* out,
                                    std::vector<std::string>* warnings) {
  FileData file;
  int open_errno = 0;
  if (auto f =
          ReadSmallFile(AT_FDCWD, path.c_str(), path, &file, &open_errno)) {
    if (open_errno == ENOENT) f->message += " (" + std::string(kPathHint) + ")";
    return f;
  }
  bool kube = false;
  {
    Fd dir(::open(Dirname(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    kube = dir.get() >= 0 && IsKubernetesVolume(dir.get());
  }
  if (!kube && (file.mode & 077) != 0 && warnings) {
    warnings->push_back(LooseModeWarning(path, file.mode));
  }

  const std::string_view text = file.view();
  // Views into the wiped buffer; only the password is copied, into a
  // SecretString.
  std::optional<std::string_view> user, password, domain;
  std::size_t user_line = 0, password_line = 0, domain_line = 0;
  std::size_t pos = 0;
  for (std::size_t line_no = 1; pos < text.size(); ++line_no) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const std::string where = path + ": line " + std::to_string(line_no);
    if (!IsValidText(line)) {
      return Failure{credentials_errc::invalid_utf8,
                     where +
                         ": not valid UTF-8 text or holds a NUL byte (save the "
                         "file as UTF-8)"};
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Like mount.cifs: leading blanks before the key do not count.
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t eq = line.find('=');
    // Neither message quotes the line: it may be a password written without
    // its key.
    if (eq == std::string_view::npos) {
      if (warnings) {
        warnings->push_back("credentials: " + where +
                            ": no '=' on the line, ignored (write key=value)");
      }
      continue;
    }
    std::string_view key = line.substr(0, eq);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
      key.remove_suffix(1);
    const std::string_view value = line.substr(eq + 1);
    std::optional<std::string_view>* slot = nullptr;
    std::size_t* slot_line = nullptr;
    const char* canonical = nullptr;
    switch (ClassifyKey(key)) {
      case Key::kUser:
        slot = &user, slot_line = &user_line, canonical = "username";
        break;
      case Key::kPassword:
        slot = &password, slot_line = &password_line, canonical = "password";
        break;
      case Key::kDomain:
        slot = &domain, slot_line = &domain_line, canonical = "domain";
        break;
      case Key::kUnknown:
        if (warnings) {
          warnings->push_back("credentials: " + where +
                              ": unknown key, ignored (the keys are username, "
                              "password, domain)");
        }
        continue;
    }
    if (slot->has_value()) {
      return Failure{credentials_errc::malformed,
                     where + ": a second " + canonical +
                         " (the first is on line " +
                         std::to_string(*slot_line) + "; keep one)"};
    }
    *slot = value;
    *slot_line = line_no;
  }
  if (!user) {
    return Failure{credentials_errc::missing_username,
                   path +
                       ": no username= line (add username=USER, DOMAIN\\USER "
                       "or USER@DOMAIN)"};
  }
  if (!password) {
    return Failure{credentials_errc::missing_password,
                   path +
                       ": no password= line (add password=..., the rest of the "
                       "line is the "
                       "password)"};
  }
  RawCredentials raw;
  raw.user_full = std::string(*user);
  raw.user_source = path + " line " + std::to_string(user_line) + " (username)";
  if (domain) {
    raw.domain = std::string(*domain);
    raw.domain_source =
        path + " line " + std::to_string(domain_line) + " (domain)";
  }
  if (auto f = Finish(std::move(raw), path, out, warnings)) return f;
  out->password = SecretString(*password);
  return std::nullopt;
}

}  // namespace

const std::error_category& credentials_category() noexcept {
  static const CredentialsCategory c;
  return c;
}

bool SplitUserName(std::string_view full, std::string* user,
                   std::string* domain) {
  user->clear();
  domain->clear();
  // DOMAIN\user (and DOMAIN/user, which mount.cifs also takes). Neither
  // separator can occur in a Windows user or domain name.
  const std::size_t sep = full.find_first_of("\\/");
  if (sep != std::string_view::npos) {
    *domain = full.substr(0, sep);
    *user = full.substr(sep + 1);
    return !domain->empty() && !user->empty();
  }
  // user@domain: the last '@', so the user part keeps any earlier one.
  const std::size_t at = full.rfind('@');
  if (at != std::string_view::npos) {
    *user = full.substr(0, at);
    *domain = full.substr(at + 1);
    return !domain->empty() && !user->empty();
  }
  *user = full;
  return !user->empty();
}

Result<Credentials> LoadCredentials(const std::string& path,
                                    std::vector<std::string>* warnings,
                                    std::string* error_message) {
  auto fail = [&](const Failure& f) -> std::error_code {
    if (error_message) *error_message = "credentials: " + f.message;
    return f.code;
  };
  if (path.empty()) {
    return fail({credentials_errc::not_found,
                 "no path given (" + std::string(kPathHint) + ")"});
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return fail(
        {err == ENOENT || err == ENOTDIR ? credentials_errc::not_found
                                         : credentials_errc::unreadable,
         path + ": " + ErrnoText(err) + " (" + std::string(kPathHint) + ")"});
  }
  Credentials creds;
  std::optional<Failure> failure;
  if (S_ISDIR(st.st_mode)) {
    Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) {
      return fail(
          {credentials_errc::unreadable, path + ": " + ErrnoText(errno)});
    }
    failure = LoadFromDirectory(path, dir.get(), &creds, warnings);
  } else {
    failure = LoadFromFile(path, &creds, warnings);
  }
  if (failure) return fail(*failure);
  return creds;
}

double CredentialsChangedTime(const std::string& path) {
  auto mtime = [](const std::string& p, bool follow) -> double {
    struct stat st {};
    if ((follow ? ::stat(p.c_str(), &st) : ::lstat(p.c_str(), &st)) != 0) return 0;
    return static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return mtime(path, true);
  if (const double swapped = mtime(path + "/..data", false)) return swapped;
  double newest = 0;
  for (const char* f : {"username", "password", "domain"}) newest = std::max(newest, mtime(path + "/" + f, true));
  return newest;
}

}  // namespace smbgate
