// Input discovery for `nf-shard build --input`: files, globs and directories become one
// deterministic list of files with their sizes (nf/data/input_split.h splits it for ranks or
// threads). Gzip files are recognised by their magic bytes and
// read transparently (nf/data/line_reader.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nf::data {

struct InputFile {
  std::string path;   // as the user spelled it (directory entries: directory + relative path)
  int64_t bytes = 0;  // size on disk (compressed size for gzip files)
  bool gzip = false;  // starts with the gzip magic bytes 1f 8b
};

// Expands `specs` in the order given. Each spec is
//   - a file: taken as is, whatever its name;
//   - a directory: every regular file below it, recursively, whose name ends in .jsonl, .ndjson,
//     .json, .txt or .text (optionally followed by .gz); hidden entries (".name") are skipped;
//   - a glob (contains * ? or [): the paths it matches, directories expanded as above.
// Within a spec, files are sorted by path (byte order), so the list never depends on the
// filesystem's directory order. A file reached by two specs is kept once, at its first place.
// Throws UsageError naming the spec when it matches nothing or does not exist.
std::vector<InputFile> discover_inputs(const std::vector<std::string>& specs);

// Sum of InputFile::bytes.
int64_t total_bytes(const std::vector<InputFile>& files);

}  // namespace nf::data
