// Bad input: every kind is counted, skipped and reported with file:line and a reason that says
// what was expected; --strict throws at the first; reports merge across threads and ranks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "corpus.h"
#include "nf/core/error.h"
#include "nf/data/document_reader.h"
#include "nf/data/record_parser.h"

namespace nf::data {
namespace {

using testing::TempDir;
using testing::write_gzip;
using testing::write_text;

struct Case {
  DatasetFormat format;
  std::string line;
  BadInputKind kind;
  std::string reason;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {DatasetFormat::kPretrain, "{\"text\": \"unterminated", BadInputKind::kMalformedJson,
       "parse error at line 1, column 23: syntax error while parsing value - invalid string: missing closing quote; "
       "last read: '\"unterminated'"},
      // A number beyond a double: nlohmann throws out_of_range, not parse_error (found by fuzz_record).
      {DatasetFormat::kPretrain, "{\"text\": \"t\", \"id\": 1e400}", BadInputKind::kMalformedJson,
       "number overflow parsing '1e400'"},
      {DatasetFormat::kPretrain, "{\"txt\": \"typo\"}", BadInputKind::kMissingField,
       "missing \"text\"; pretrain records are {\"text\", \"id\"?, \"emotion\"?, \"scene\"?}"},
      {DatasetFormat::kSft, "{\"instruction\": \"hi\"}", BadInputKind::kMissingField,
       "missing \"output\"; sft records are {\"instruction\", \"input\"?, \"output\"} or "
       "{\"conversations\": [{\"role\", \"content\"}, ...]}"},
      {DatasetFormat::kSft, "{\"text\": \"pretrain data given as sft\"}", BadInputKind::kMissingField,
       "missing \"instruction\" or \"conversations\"; sft records are {\"instruction\", \"input\"?, \"output\"} or "
       "{\"conversations\": [{\"role\", \"content\"}, ...]}"},
      {DatasetFormat::kDpo, "{\"prompt\": \"p\", \"chosen\": \"c\"}", BadInputKind::kMissingField,
       "missing \"rejected\"; dpo records are {\"prompt\", \"chosen\", \"rejected\"}"},
      {DatasetFormat::kSequence, "{\"next\": \"n\"}", BadInputKind::kMissingField,
       "missing \"paragraphs\"; sequence records are {\"paragraphs\": [\"...\", ...], \"next\"}"},
      {DatasetFormat::kPretrain, "{\"text\": 42}", BadInputKind::kWrongType, "\"text\" is a number, expected a string"},
      {DatasetFormat::kPretrain, "[\"text\"]", BadInputKind::kWrongType,
       "the record is an array, expected an object; pretrain records are {\"text\", \"id\"?, \"emotion\"?, "
       "\"scene\"?}"},
      {DatasetFormat::kPretrain, "{\"text\": \"t\", \"emotion\": [\"happy\"]}", BadInputKind::kWrongType,
       "\"emotion\" is an array, expected a string or a number"},
      {DatasetFormat::kSft, "{\"conversations\": [{\"role\": \"user\", \"content\": [\"img\"]}]}",
       BadInputKind::kWrongType, "conversations[0].content is an array, expected a string"},
      {DatasetFormat::kSequence, "{\"paragraphs\": \"one\", \"next\": \"two\"}", BadInputKind::kWrongType,
       "\"paragraphs\" is a string, expected an array of strings"},
      {DatasetFormat::kPretrain, "{\"text\": \"caf\xe9\"}", BadInputKind::kInvalidUtf8,
       "invalid UTF-8 at byte 14 (0xe9); convert the file to UTF-8, e.g. iconv -f GB18030 -t UTF-8"},
      {DatasetFormat::kPretrain, "{\"text\": \" \\n\\t \"}", BadInputKind::kEmptyDocument,
       "\"text\" has no text (empty or only whitespace)"},
      {DatasetFormat::kSft, "{\"conversations\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
       BadInputKind::kEmptyDocument, "\"conversations\" has no assistant turn with text: nothing to train on"},
      {DatasetFormat::kDpo, "{\"prompt\": \"p\", \"chosen\": \"\", \"rejected\": \"r\"}", BadInputKind::kEmptyDocument,
       "\"chosen\" has no text (empty or only whitespace)"},
      {DatasetFormat::kSequence, "{\"paragraphs\": [\"a\", \"\"], \"next\": \"n\"}", BadInputKind::kEmptyDocument,
       "\"paragraphs\"[1] has no text (empty or only whitespace)"},
      {DatasetFormat::kPretrain, "{\"text\": \"" + std::string(101, 'x') + "\"}", BadInputKind::kTooLong,
       "the document has 101 bytes of text, more than the limit of 100 (--max-document-bytes)"},
      {DatasetFormat::kSft,
       "{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"tool\", \"value\": \"x\"}]}",
       BadInputKind::kUnknownRole,
       "conversations[1].from is \"tool\", expected system, user or assistant (or human, gpt)"},
  };
  return all;
}

TEST(BadInput, EveryKindIsCountedSkippedAndReportedAtItsFileAndLine) {
  TempDir dir;
  for (DatasetFormat format :
       {DatasetFormat::kPretrain, DatasetFormat::kSft, DatasetFormat::kDpo, DatasetFormat::kSequence}) {
    // A good record first, then each bad one of this format, then a good one: the reader skips only the bad.
    const std::string good = format == DatasetFormat::kPretrain ? "{\"text\": \"ok\"}"
                             : format == DatasetFormat::kSft    ? "{\"instruction\": \"q\", \"output\": \"a\"}"
                             : format == DatasetFormat::kDpo
                                 ? "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}"
                                 : "{\"paragraphs\": [], \"next\": \"n\"}";
    std::string content = good + "\n";
    std::vector<const Case*> expected;
    for (const Case& c : cases()) {
      if (c.format != format) continue;
      content += c.line + "\n";
      expected.push_back(&c);
    }
    content += good + "\n";
    const std::string path = dir.file(std::string(format_name(format)) + ".jsonl.gz");
    write_gzip(path, content);
    BadInputReport bad({/*strict=*/false, /*max_examples=*/10});
    DocumentReader reader(path, {format, InputLayout::kAuto, /*max_document_bytes=*/100}, bad);
    Document document;
    std::vector<std::string> sources;
    while (reader.next(document)) sources.push_back(document.source);
    EXPECT_EQ(sources, (std::vector<std::string>{path + ":1", path + ":" + std::to_string(expected.size() + 2)}));
    EXPECT_EQ(bad.total(), static_cast<int64_t>(expected.size()));
    // Every bad line shows up among its kind's examples, at its line, with its reason.
    for (size_t i = 0; i < expected.size(); ++i) {
      const auto& examples = bad.examples(expected[i]->kind);
      const std::string source = path + ":" + std::to_string(i + 2);
      const auto found =
          std::find_if(examples.begin(), examples.end(), [&](const BadInputExample& e) { return e.source == source; });
      ASSERT_NE(found, examples.end()) << source << " " << expected[i]->line;
      EXPECT_EQ(found->reason, expected[i]->reason) << expected[i]->line;
    }
  }
}

TEST(BadInput, StrictModeThrowsTheFirstWithFileLineKindAndReason) {
  TempDir dir;
  write_text(dir.file("sft.jsonl"),
             "{\"instruction\": \"q\", \"output\": \"a\"}\n"
             "{\"conversations\": [{\"role\": \"robot\", \"content\": \"beep\"}]}\n"
             "{not json}\n");
  BadInputReport bad({/*strict=*/true});
  DocumentReader reader(dir.file("sft.jsonl"), {DatasetFormat::kSft}, bad);
  Document document;
  ASSERT_TRUE(reader.next(document));
  try {
    reader.next(document);
    FAIL() << "strict mode skipped a bad record";
  } catch (const DataError& error) {
    EXPECT_EQ(
        std::string(error.what()),
        dir.file("sft.jsonl") +
            ":2: unknown-role: conversations[0].role is \"robot\", expected system, user or assistant (or human, gpt)");
    EXPECT_EQ(error.hint(), "fix the record, or drop --strict to skip bad records and get a count at the end");
  }
}

TEST(BadInput, ParagraphsReportInvalidUtf8AtItsLineAndOverLongParagraphsAtTheirStart) {
  TempDir dir;
  write_text(dir.file("p.txt"), "good one\n\nstarts fine\nthen \xff\xfe breaks\n\n" + std::string(60, 'a') + "\n" +
                                    std::string(60, 'b') + "\n\n\nlast\n");
  BadInputReport bad;
  DocumentReader reader(dir.file("p.txt"), {DatasetFormat::kPretrain, InputLayout::kAuto, 100}, bad);
  Document document;
  std::vector<std::string> texts;
  while (reader.next(document)) texts.push_back(document.source + " " + document.segments[0].text);
  EXPECT_EQ(texts, (std::vector<std::string>{dir.file("p.txt") + ":1 good one", dir.file("p.txt") + ":10 last"}));
  ASSERT_EQ(bad.examples(BadInputKind::kInvalidUtf8).size(), 1u);
  EXPECT_EQ(bad.examples(BadInputKind::kInvalidUtf8)[0].source, dir.file("p.txt") + ":4");
  EXPECT_EQ(bad.examples(BadInputKind::kInvalidUtf8)[0].reason,
            "invalid UTF-8 at byte 6 (0xff); convert the file to UTF-8, e.g. iconv -f GB18030 -t UTF-8");
  ASSERT_EQ(bad.examples(BadInputKind::kTooLong).size(), 1u);
  EXPECT_EQ(bad.examples(BadInputKind::kTooLong)[0].source, dir.file("p.txt") + ":6");
  EXPECT_EQ(bad.examples(BadInputKind::kTooLong)[0].reason,
            "the paragraph is longer than the limit of 100 bytes (--max-document-bytes)");
}

TEST(BadInput, AJsonLineFarOverTheLimitIsTooLongWithoutBeingParsed) {
  TempDir dir;
  write_text(dir.file("big.jsonl"), "{\"text\": \"" + std::string(200000, 'x') + "\"}\n{\"text\": \"fine\"}\n");
  BadInputReport bad;
  DocumentReader reader(dir.file("big.jsonl"), {DatasetFormat::kPretrain, InputLayout::kAuto, 1000}, bad);
  Document document;
  ASSERT_TRUE(reader.next(document));
  EXPECT_EQ(document.source, dir.file("big.jsonl") + ":2");
  ASSERT_EQ(bad.count(BadInputKind::kTooLong), 1);
  EXPECT_EQ(bad.examples(BadInputKind::kTooLong)[0].reason,
            "the line is longer than 71536 bytes (--max-document-bytes 1000 plus JSON)");
}

TEST(BadInput, AJsonArrayOrPrettyPrintedFileIsRejectedOnceWithAConversionHint) {
  TempDir dir;
  write_text(dir.file("alpaca.json"), "[\n  {\"instruction\": \"q\", \"output\": \"a\"}\n]\n");
  write_text(dir.file("pretty.jsonl"), "\n{\n  \"prompt\": \"p\",\n  \"chosen\": \"c\",\n  \"rejected\": \"r\"\n}\n");
  BadInputReport bad;
  DocumentReader array_reader(dir.file("alpaca.json"), {DatasetFormat::kSft}, bad);
  DocumentReader pretty_reader(dir.file("pretty.jsonl"), {DatasetFormat::kDpo}, bad);
  Document document;
  try {
    array_reader.next(document);
    FAIL();
  } catch (const DataError& error) {
    EXPECT_EQ(std::string(error.what()), dir.file("alpaca.json") +
                                             ":1: this file is a JSON array, but nf-shard reads JSON Lines (one "
                                             "object per line)");
    EXPECT_EQ(error.hint(), "convert it with: jq -c '.[]' " + dir.file("alpaca.json") + " > file.jsonl");
  }
  try {
    pretty_reader.next(document);
    FAIL();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("pretty.jsonl:2: this file is pretty-printed JSON"), std::string::npos);
  }
  EXPECT_EQ(bad.total(), 0);
}

TEST(BadInputReport, ExamplesAreCappedAndMergingInOrderEqualsTheSerialReport) {
  BadInputReport serial({false, 2}), first({false, 2}), second({false, 2});
  for (int line = 1; line <= 5; ++line) {
    const std::string source = "a.jsonl:" + std::to_string(line);
    serial.add(BadInputKind::kMalformedJson, source, "bad");
    (line <= 1 ? first : second).add(BadInputKind::kMalformedJson, source, "bad");
  }
  second.add(BadInputKind::kUnknownRole, "b.jsonl:9", "role");
  serial.add(BadInputKind::kUnknownRole, "b.jsonl:9", "role");
  first.merge(second);
  EXPECT_EQ(first.to_json(), serial.to_json());
  EXPECT_EQ(first.count(BadInputKind::kMalformedJson), 5);
  EXPECT_EQ(first.examples(BadInputKind::kMalformedJson).size(), 2u);
  EXPECT_EQ(first.examples(BadInputKind::kMalformedJson)[1].source, "a.jsonl:2");
  EXPECT_EQ(serial.summary(),
            "skipped 6 bad input record(s) (--strict stops at the first):\n"
            "  malformed-json: 5\n"
            "    a.jsonl:1: bad\n"
            "    a.jsonl:2: bad\n"
            "    ... and 3 more\n"
            "  unknown-role: 1\n"
            "    b.jsonl:9: role");
  EXPECT_EQ(BadInputReport().summary(), "");
}

TEST(BadInputReport, JsonRoundTripCarriesReportsAcrossRanks) {
  BadInputReport report({false, 3});
  report.add(BadInputKind::kTooLong, "x.txt:4", "long");
  report.add(BadInputKind::kInvalidUtf8, "y.jsonl:1", "bytes");
  const nlohmann::json json = report.to_json();
  EXPECT_EQ(json.dump(),
            "{\"invalid-utf8\":{\"count\":1,\"examples\":[{\"reason\":\"bytes\",\"source\":\"y.jsonl:1\"}]},"
            "\"too-long\":{\"count\":1,\"examples\":[{\"reason\":\"long\",\"source\":\"x.txt:4\"}]}}");
  const BadInputReport back = BadInputReport::from_json(nlohmann::json::parse(json.dump()), {false, 3});
  EXPECT_EQ(back.to_json(), json);
  EXPECT_EQ(back.total(), 2);
}

}  // namespace
}  // namespace nf::data
