// Crash-safe file writes: write a temporary sibling, fsync it, then rename it over the target,
// so a reader sees either the old file or the complete new one, never a partial one.
#pragma once

#include <string>

namespace nf {

// Writes `content` to `path` atomically (temp name + fsync + rename). Creates parent directories.
// Throws IoError naming the path on any failure; the temporary file is removed.
void write_file_atomic(const std::string& path, const std::string& content);

// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace nf
