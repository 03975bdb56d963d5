#include "engine/format.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/file_util.h"
#include "engine/hint.h"
#include "engine/recovery.h"
#include "test_util.h"
#include "util/coding.h"
#include "util/hash.h"

namespace bitcask::engine::format {
namespace {

std::string Encode(uint64_t seq, uint64_t expire, uint8_t flags, std::string_view key,
                   std::string_view value) {
  std::string buf(RecordSize(key.size(), value.size()), '\0');
  EXPECT_EQ(EncodeRecord(buf.data(), seq, expire, flags, key, value), buf.size());
  return buf;
}

TEST(FormatTest, RecordRoundTrip) {
  const std::string rec = Encode(42, 1700000000000, kTombstone, "key", "value");
  ASSERT_EQ(rec.size(), kRecordHeaderSize + 3 + 5);
  RecordView view;
  ASSERT_EQ(DecodeRecord(rec.data(), rec.size(), &view), DecodeResult::kOk);
  EXPECT_EQ(view.seq, 42u);
  EXPECT_EQ(view.expire_at_ms, 1700000000000u);
  EXPECT_TRUE(view.tombstone());
  EXPECT_FALSE(view.batch_continues());
  EXPECT_EQ(view.key, "key");
  EXPECT_EQ(view.value, "value");
  EXPECT_EQ(view.size, rec.size());
}

TEST(FormatTest, LayoutMatchesFormatDoc) {
  // docs/FORMAT.md: checksum@0, seq@4, expiry@12, value size@20, key size@24, flags@26.
  const std::string rec = Encode(0x0102030405060708, 9, kBatchContinues, "ab", "xyz");
  EXPECT_EQ(util::DecodeFixed64(rec.data() + 4), 0x0102030405060708u);
  EXPECT_EQ(util::DecodeFixed64(rec.data() + 12), 9u);
  EXPECT_EQ(util::DecodeFixed32(rec.data() + 20), 3u);
  EXPECT_EQ(util::DecodeFixed16(rec.data() + 24), 2u);
  EXPECT_EQ(rec[26], static_cast<char>(kBatchContinues));
  EXPECT_EQ(rec.substr(27), "abxyz");
  // Little-endian on disk: the low byte of the sequence comes first.
  EXPECT_EQ(rec[4], 0x08);
}

TEST(FormatTest, HeaderEncodedApartMatchesWholeRecord) {
  for (size_t vsize : {0, 1, 100, 1280, 100000}) {
    const std::string key = "key", value(vsize, 'q');
    const std::string whole = Encode(9, 77, kBatchContinues, key, value);
    char header[kRecordHeaderSize];
    EncodeRecordHeader(header, 9, 77, kBatchContinues, key, value);
    EXPECT_EQ(std::string(header, kRecordHeaderSize), whole.substr(0, kRecordHeaderSize)) << vsize;
  }
}

// Long inputs are hashed by the library's dispatched vector code (hash.cc), short ones by
// the inline code: both must give XXH3's value, or files written by one would not verify
// under the other.
std::string PseudoRandomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    s[i] = static_cast<char>(seed >> 56);
  }
  return s;
}

TEST(HashTest, LongInputsHashAsTheInlineXxh3Does) {
  const std::string data = PseudoRandomBytes((1 << 20) + 13, 1);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 1100; n++) lengths.push_back(n);
  for (size_t n : {4095, 4096, 4097, 10043, 65536, 100000, (1 << 20) + 13}) lengths.push_back(n);
  for (size_t n : lengths) {
    const uint64_t want = XXH3_64bits(data.data(), n);
    EXPECT_EQ(util::Hash64(data.data(), n), want) << n;
    EXPECT_EQ(util::Checksum32(data.data(), n), static_cast<uint32_t>(want)) << n;
    if (n > util::kLongHashInput) {
      EXPECT_EQ(util::HashLong(data.data(), n), want) << n;
    }
  }
}

TEST(HashTest, ChecksumOfPiecesIsTheChecksumOfTheirConcatenation) {
  const std::string data = PseudoRandomBytes(20000, 2);
  for (size_t total : {0, 1, 23, 130, 240, 241, 1000, 10043, 20000}) {
    const std::string_view all(data.data(), total);
    const uint32_t want = util::Checksum32(all.data(), all.size());
    for (size_t i = 0; i <= total; i += std::max<size_t>(1, total / 7)) {
      for (size_t j = i; j <= total; j += std::max<size_t>(1, total / 5)) {
        EXPECT_EQ(util::Checksum32(all.substr(0, i), all.substr(i, j - i), all.substr(j)), want)
            << total << " split at " << i << ", " << j;
      }
    }
  }
}

TEST(FormatTest, ByteFlipsInALargeRecordAreDetected) {
  const std::string value = PseudoRandomBytes(5000, 3);
  const std::string good = Encode(7, 0, 0, "large-key", value);
  for (size_t i = 0; i < good.size(); i += 37) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    RecordView view;
    EXPECT_NE(DecodeRecord(bad.data(), bad.size(), &view), DecodeResult::kOk)
        << "flip in byte " << i << " went unnoticed";
  }
}

TEST(FormatTest, EmptyKeyAndValue) {
  const std::string rec = Encode(1, 0, 0, "", "");
  RecordView view;
  ASSERT_EQ(DecodeRecord(rec.data(), rec.size(), &view), DecodeResult::kOk);
  EXPECT_TRUE(view.key.empty());
  EXPECT_TRUE(view.value.empty());
}

TEST(FormatTest, EverySingleByteFlipIsDetected) {
  const std::string good = Encode(7, 0, 0, "some-key", "some value bytes");
  for (size_t i = 0; i < good.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      RecordView view;
      EXPECT_NE(DecodeRecord(bad.data(), bad.size(), &view), DecodeResult::kOk)
          << "flip of bit " << bit << " in byte " << i << " went unnoticed";
    }
  }
}

TEST(FormatTest, TruncatedRecord) {
  const std::string rec = Encode(7, 0, 0, "key", "value");
  RecordView view;
  for (size_t n = 1; n < rec.size(); n++) {
    EXPECT_EQ(DecodeRecord(rec.data(), n, &view), DecodeResult::kTruncated) << n;
  }
}

TEST(FormatTest, ZerosAreTheUnwrittenEnd) {
  const std::string zeros(100, '\0');
  RecordView view;
  EXPECT_EQ(DecodeRecord(zeros.data(), zeros.size(), &view), DecodeResult::kZero);
  EXPECT_EQ(DecodeRecord(zeros.data(), 5, &view), DecodeResult::kZero);
}

TEST(FormatTest, UnknownFlagsAndZeroSequenceAreRejected) {
  std::string rec = Encode(7, 0, 0, "key", "value");
  rec[26] = static_cast<char>(0x80);
  RecordView view;
  EXPECT_EQ(DecodeRecord(rec.data(), rec.size(), &view), DecodeResult::kBadHeader);
  rec = Encode(0, 0, 0, "key", "value");
  EXPECT_EQ(DecodeRecord(rec.data(), rec.size(), &view), DecodeResult::kBadHeader);
}

TEST(FormatTest, FileHeader) {
  char buf[kFileHeaderSize];
  EncodeFileHeader(buf, kDataMagic, 12);
  EXPECT_EQ(std::string(buf, 4), "BCDF");
  EXPECT_TRUE(DecodeFileHeader({buf, sizeof buf}, kDataMagic, 12, "f").ok());
  Status s = DecodeFileHeader({buf, sizeof buf}, kDataMagic, 13, "f");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  s = DecodeFileHeader({buf, sizeof buf}, kHintMagic, 12, "f");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  buf[9] ^= 1;
  s = DecodeFileHeader({buf, sizeof buf}, kDataMagic, 12, "f");
  EXPECT_NE(s.ToString().find("header checksum"), std::string::npos) << s.ToString();
  s = DecodeFileHeader({buf, 3}, kDataMagic, 12, "f");
  EXPECT_TRUE(s.IsCorruption());
}

// A header of data format `version` (any, with a checksum that matches it).
std::string HeaderOfVersion(const char (&magic)[4], uint16_t version) {
  char buf[kFileHeaderSize];
  EncodeFileHeader(buf, magic, 1);
  util::EncodeFixed16(buf + 4, version);
  util::EncodeFixed32(buf + 12, static_cast<uint32_t>(XXH3_64bits(buf, 12)));
  return std::string(buf, sizeof buf);
}

TEST(FormatTest, OlderVersionsAreReadNewerOnesAreNotSupported) {
  uint16_t version = 0;
  // Data files: version 1 (before sync marks) and 2.
  ASSERT_TRUE(DecodeFileHeader(HeaderOfVersion(kDataMagic, 1), kDataMagic, 1, "f", &version).ok());
  EXPECT_EQ(version, 1u);
  ASSERT_TRUE(DecodeFileHeader(HeaderOfVersion(kDataMagic, 2), kDataMagic, 1, "f", &version).ok());
  EXPECT_EQ(version, 2u);
  Status s = DecodeFileHeader(HeaderOfVersion(kDataMagic, 3), kDataMagic, 1, "f");
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(s.ToString().find("format version 3"), std::string::npos) << s.ToString();
  // Hint files are still at version 1.
  EXPECT_TRUE(DecodeFileHeader(HeaderOfVersion(kHintMagic, 1), kHintMagic, 1, "f").ok());
  EXPECT_TRUE(
      DecodeFileHeader(HeaderOfVersion(kHintMagic, 2), kHintMagic, 1, "f").IsNotSupported());
  // A new data file is written at the current version.
  char buf[kFileHeaderSize];
  EncodeFileHeader(buf, kDataMagic, 1);
  EXPECT_EQ(util::DecodeFixed16(buf + 4), kDataFormatVersion);
}

TEST(FormatTest, SyncMarkRoundTripsAndStandsAlone) {
  char mark[kSyncMarkSize];
  EncodeSyncMark(mark, 42, 123456);
  RecordView view;
  ASSERT_EQ(DecodeRecord(mark, sizeof mark, &view), DecodeResult::kOk);
  EXPECT_TRUE(view.sync_mark());
  EXPECT_EQ(view.seq, 42u);
  EXPECT_EQ(view.synced_end(), 123456u);
  EXPECT_TRUE(view.key.empty());
  EXPECT_EQ(view.size, kSyncMarkSize);
  // The mark bit with anything else is not a record.
  const std::string value(8, '\0');
  for (const std::string& bad :
       {Encode(1, 0, kSyncMark | kTombstone, "", value),
        Encode(1, 0, kSyncMark | kBatchContinues, "", value), Encode(1, 0, kSyncMark, "k", value),
        Encode(1, 0, kSyncMark, "", "1234567"), Encode(1, 5, kSyncMark, "", value)}) {
    EXPECT_EQ(DecodeRecord(bad.data(), bad.size(), &view), DecodeResult::kBadHeader);
  }
}

TEST(FormatTest, FindNextValidRecordSkipsGarbageAndZeros) {
  std::string file(format::kFileHeaderSize, '\0');
  file += std::string(1000, '\0');
  file += "garbage!";
  const size_t at = file.size();
  file += Encode(5, 0, 0, "k", "v");
  EXPECT_EQ(FindNextValidRecord(file.data(), 16, file.size()), at);
  EXPECT_EQ(FindNextValidRecord(file.data(), at + 1, file.size()), file.size());
  EXPECT_EQ(FindNextNonZero(file.data(), 16, file.size()), 1016u);
}

TEST(FileTest, OpenExistingTellsAMissingFileFromOneThatCannotBeOpened) {
  test::TempDir tmp;
  Env* env = Env::Default();
  FileDescriptor fd;
  const std::string missing = tmp.Sub("missing");
  EXPECT_TRUE(OpenExisting(env, missing, O_RDONLY, &fd).IsNotFound());
  EXPECT_FALSE(PathExists(env, missing));  // and it creates nothing, even when asked to
  EXPECT_TRUE(OpenExisting(env, missing, O_RDWR | O_CREAT, &fd).IsNotFound());
  EXPECT_FALSE(PathExists(env, missing));
  test::WriteFile(tmp.Sub("file"), "x");
  const Status s = OpenExisting(env, tmp.Sub("file") + "/under", O_RDONLY, &fd);  // ENOTDIR
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("Not a directory"), std::string::npos) << s.ToString();
  EXPECT_TRUE(OpenExisting(env, tmp.Sub("file"), O_RDONLY, &fd).ok());
  EXPECT_GE(fd.get(), 0);
  // A hint file that is not there (not written yet, or deleted by a merge) is NotFound.
  HintReader hint;
  EXPECT_TRUE(hint.Open(env, tmp.Sub("00000001.hint"), 1, 4096).IsNotFound());
}

}  // namespace
}  // namespace bitcask::engine::format
