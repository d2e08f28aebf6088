// SmbFs: RemoteFs over one SMB2 tree connection. Each operation becomes one
// or a few SMB2 requests sent without blocking; callbacks run on the
// connection's I/O thread.
#pragma once

#include <future>
#include <memory>
#include <string>

#include "smb2/client/remote_fs.h"
#include "smb2/client/session.h"

namespace smbgate::smb2 {

class SmbFs final : public RemoteFs {
 public:
  // `subdir` ('/'-separated, may be empty) is prefixed to every path.
  SmbFs(std::shared_ptr<Tree> tree, std::string subdir = {});

  void Open(std::string path, OpenParams params, Callback<OpenResult> cb) override;
  void Close(Handle h, Callback<void> cb) override;
  void Read(Handle h, std::uint64_t offset, std::uint32_t length, Callback<ReadResult> cb) override;
  void Write(Handle h, std::uint64_t offset, std::shared_ptr<const Bytes> data, Callback<std::uint32_t> cb) override;
  void Flush(Handle h, Callback<void> cb) override;
  void GetAttributes(Handle h, Callback<FileAttributes> cb) override;
  void Stat(std::string path, Callback<FileAttributes> cb) override;
  void ReadDirectory(std::string path, Callback<std::vector<DirectoryEntry>> cb) override;
  void MakeDirectory(std::string path, Callback<FileAttributes> cb) override;
  void RemoveDirectory(std::string path, Callback<void> cb) override;
  void Unlink(std::string path, Callback<void> cb) override;
  void Rename(std::string from, std::string to, bool replace, Callback<void> cb) override;
  void Truncate(Handle h, std::uint64_t size, Callback<void> cb) override;
  void SetInfo(Handle h, SetAttributes attrs, Callback<void> cb) override;
  void HardLink(std::string existing, std::string new_path, Callback<void> cb) override;
  void StatFs(Callback<FsStats> cb) override;
  void Lock(Handle h, std::uint64_t offset, std::uint64_t length, LockType type, bool wait,
            Callback<void> cb) override;
  std::uint32_t max_io_size() const override;

  const std::shared_ptr<Tree>& tree() const noexcept { return tree_; }

  // The SMB name ("dir\\file") for a '/'-separated path under the subdir.
  // Errors: client_errc::name_invalid for a component with '\\' or ':' (which
  // Windows would read as a separator or a stream), "." or "..".
  Result<std::string> ToSmbName(const std::string& path) const;

 private:
  std::shared_ptr<Tree> tree_;
  std::string subdir_;
};

// Runs an asynchronous RemoteFs call and waits for it. For tools and tests;
// never call from the connection's I/O thread.
template <class T, class F>
Result<T> Wait(F&& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

}  // namespace smbgate::smb2
