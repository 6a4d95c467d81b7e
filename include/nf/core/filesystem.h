// Filesystem calls whose failures (a full disk, a read-only mount, a rename across devices) are
// IoErrors naming the path and what to check, never a std::filesystem_error that reaches the user
// as an "internal error". The one place such checks live; checkpoint saves and exports use them.
#pragma once

#include <string>

namespace nf {

void create_directories(const std::string& path);
void rename_path(const std::string& from, const std::string& to);
void remove_path(const std::string& path);  // a file or an empty directory; nothing when absent
void remove_all(const std::string& path);   // a file or a whole tree; nothing when absent
void copy_file(const std::string& from, const std::string& to);

}  // namespace nf
