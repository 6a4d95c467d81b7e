// Real text for the data tests, generated at test time: the King James Bible (the `bible`
// program of Debian's bible-kjv) and the 300 Tang poems (fortunes-zh), plus plain/gzip file
// writers; temporary directories are tests/support/temp_dir.h's.
#pragma once

#include <string>
#include <vector>

#include "../../support/temp_dir.h"

namespace nf::data::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction; its path as a
// string is path_string(), and file(name) is path_string() + "/" + name with parents created.
using ::nf::testing::TempDir;

struct Verse {
  std::string id;       // "Ge1:1"
  std::string chapter;  // "Ge1"
  std::string text;     // "In the beginning God created the heaven and the earth."
};
// Every verse, Genesis 1:1 to Revelation 22:21, in order (~4.4 MB).
const std::vector<Verse>& bible_verses();

struct Poem {
  std::string title;
  std::string author;
  std::vector<std::string> lines;  // the poem's lines, UTF-8, without color escapes
};
// The poems of /usr/share/games/fortunes/tang300, with the ANSI color escapes stripped.
const std::vector<Poem>& tang_poems();

void write_text(const std::string& path, const std::string& content);
void write_gzip(const std::string& path, const std::string& content);

}  // namespace nf::data::testing
