// Filesystem calls whose failures (a full disk, a read-only mount, a rename across devices) are
// IoErrors naming the path and what to check, never a std::filesystem_error that reaches the user
// as an "internal error". The one place such checks live; checkpoint saves and exports use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nf {

void create_directories(const std::string& path);
void rename_path(const std::string& from, const std::string& to);
void remove_path(const std::string& path);  // a file or an empty directory; nothing when absent
void remove_all(const std::string& path);   // a file or a whole tree; nothing when absent
void copy_file(const std::string& from, const std::string& to);

// Bytes available to unprivileged writers on the filesystem holding `path` (its nearest existing
// parent when it does not exist yet); nullopt when that cannot be asked (statvfs fails).
std::optional<uint64_t> free_bytes(const std::string& path);
// "512 B", "3.2 MiB", "1.5 GiB".
std::string format_bytes(uint64_t bytes);
// The fix for a write to `path` that failed with errno `error` (0 = unknown): for a full disk
// (ENOSPC, EDQUOT) or an unknown error, the free space there and what the whole write needs
// (`needed`, 0 = unknown); for a refused write (EACCES, EPERM, EROFS), the directory to check.
std::string write_failure_hint(const std::string& path, int error, uint64_t needed = 0);

}  // namespace nf
