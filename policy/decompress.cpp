// SPDX-License-Identifier: Apache-2.0

#include "policy/decompress.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace modgate::policy {
namespace {

std::string too_big(std::size_t max_out) {
  return "decompresses to more than " + std::to_string(max_out >> 20) +
         " MiB, larger than any module";
}

// Output grows geometrically; kStep is the first allocation and the granularity of the cap check.
constexpr std::size_t kStep = 1u << 20;

bool grow(std::vector<std::uint8_t>& out, std::size_t used, std::size_t max_out) {
  if (used < out.size()) return true;
  if (out.size() > max_out) return false;
  out.resize(std::min(std::max(out.size() * 2, kStep), max_out + 1));
  return true;
}

// The payload size an xz file records in its index, or 0 when it cannot be read (the index is
// then checked again by the decoder, which is what refuses a corrupt file). Believed only up to
// a ratio no module reaches, so that a lying index cannot make a tiny file allocate the cap.
std::size_t xz_recorded_size(std::span<const std::uint8_t> in, std::size_t max_out) {
  constexpr std::size_t kHeader = LZMA_STREAM_HEADER_SIZE;  // the footer's size too
  if (in.size() < 2 * kHeader) return 0;
  lzma_stream_flags footer;
  if (lzma_stream_footer_decode(&footer, in.data() + in.size() - kHeader) != LZMA_OK) return 0;
  if (footer.backward_size > in.size() - 2 * kHeader) return 0;
  lzma_index* index = nullptr;
  std::uint64_t memlimit = 1u << 20;
  std::size_t pos = in.size() - kHeader - footer.backward_size;
  if (lzma_index_buffer_decode(&index, &memlimit, nullptr, in.data(), &pos, in.size() - kHeader) !=
      LZMA_OK)
    return 0;
  std::uint64_t size = lzma_index_uncompressed_size(index);
  lzma_index_end(index, nullptr);
  if (size > max_out || size / 64 > in.size()) return 0;
  return static_cast<std::size_t>(size);
}

Result<std::vector<std::uint8_t>> unxz(std::span<const std::uint8_t> in, std::size_t max_out) {
  lzma_stream s = LZMA_STREAM_INIT;
  // The memory limit bounds the decoder's dictionary: kernel modules use 1 MiB (scripts/Makefile
  // .modinst), and a header asking for gigabytes is refused rather than obeyed.
  if (lzma_stream_decoder(&s, 256u << 20, 0) != LZMA_OK)
    return Error{"cannot initialise the xz decoder"};
  // Sized once from the index (plus a byte, so that a full buffer means more is coming), rather
  // than grown by doubling: each doubling zeroes a new buffer and copies the old one, which took
  // 4 % of `policy init` over 6.12's tree, and holds both at once.
  std::vector<std::uint8_t> out;
  if (std::size_t recorded = xz_recorded_size(in, max_out)) out.resize(recorded + 1);
  std::size_t used = 0;
  s.next_in = in.data();
  s.avail_in = in.size();
  lzma_ret r = LZMA_OK;
  while (r == LZMA_OK) {
    if (!grow(out, used, max_out)) {
      lzma_end(&s);
      return Error{too_big(max_out)};
    }
    s.next_out = out.data() + used;
    s.avail_out = out.size() - used;
    r = lzma_code(&s, LZMA_FINISH);
    used = out.size() - s.avail_out;
  }
  std::size_t trailing = s.avail_in;
  lzma_end(&s);
  switch (r) {
    case LZMA_STREAM_END:
      break;
    case LZMA_FORMAT_ERROR:
      return Error{"is not xz data"};
    case LZMA_DATA_ERROR:
      return Error{"xz data is corrupt"};
    case LZMA_BUF_ERROR:
      return Error{"xz data is truncated"};
    case LZMA_MEMLIMIT_ERROR:
      return Error{"xz stream needs more decoder memory than any module would"};
    default:
      return Error{"xz decoding failed (liblzma error " + std::to_string(static_cast<int>(r)) +
                   ")"};
  }
  if (trailing != 0) return Error{"has " + std::to_string(trailing) + " bytes after the xz stream"};
  if (used > max_out) return Error{too_big(max_out)};
  out.resize(used);
  return out;
}

Result<std::vector<std::uint8_t>> unzstd(std::span<const std::uint8_t> in, std::size_t max_out) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) return Error{"cannot initialise the zstd decoder"};
  // Window size bounds decoder memory the same way the xz limit does.
  ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 27);
  std::vector<std::uint8_t> out;
  std::size_t used = 0;
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::size_t ret = 1;
  while (true) {
    if (!grow(out, used, max_out)) {
      ZSTD_freeDStream(ds);
      return Error{too_big(max_out)};
    }
    ZSTD_outBuffer ob{out.data() + used, out.size() - used, 0};
    ret = ZSTD_decompressStream(ds, &ob, &ib);
    used += ob.pos;
    if (ZSTD_isError(ret)) {
      std::string msg = ZSTD_getErrorName(ret);
      ZSTD_freeDStream(ds);
      return Error{"zstd data is corrupt (" + msg + ")"};
    }
    if (ret == 0 && ib.pos == ib.size) break;  // frame complete and input consumed
    if (ret == 0) continue;                    // another frame follows
    if (ib.pos == ib.size && ob.pos < ob.size) {
      ZSTD_freeDStream(ds);
      return Error{"zstd data is truncated"};
    }
  }
  ZSTD_freeDStream(ds);
  if (used > max_out) return Error{too_big(max_out)};
  out.resize(used);
  return out;
}

Result<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> in, std::size_t max_out) {
  z_stream s{};
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return Error{"cannot initialise the gzip decoder"};
  std::vector<std::uint8_t> out;
  std::size_t used = 0;
  std::size_t in_pos = 0;
  int r = Z_OK;
  while (r == Z_OK) {
    if (!grow(out, used, max_out)) {
      inflateEnd(&s);
      return Error{too_big(max_out)};
    }
    // zlib counts in uInt; feed and drain in chunks that fit.
    std::size_t in_chunk = std::min<std::size_t>(in.size() - in_pos, 1u << 30);
    std::size_t out_chunk = std::min<std::size_t>(out.size() - used, 1u << 30);
    s.next_in = const_cast<Bytef*>(in.data() + in_pos);
    s.avail_in = static_cast<uInt>(in_chunk);
    s.next_out = out.data() + used;
    s.avail_out = static_cast<uInt>(out_chunk);
    r = inflate(&s, Z_NO_FLUSH);
    in_pos += in_chunk - s.avail_in;
    used += out_chunk - s.avail_out;
    if (r == Z_BUF_ERROR && in_pos == in.size() && s.avail_out != 0) {
      inflateEnd(&s);
      return Error{"gzip data is truncated"};
    }
    if (r == Z_BUF_ERROR) r = Z_OK;  // output full: grow and go on
  }
  inflateEnd(&s);
  if (r != Z_STREAM_END)
    return Error{std::string("gzip data is corrupt") +
                 (s.msg ? std::string(" (") + s.msg + ")" : "")};
  if (in_pos != in.size())
    return Error{"has " + std::to_string(in.size() - in_pos) + " bytes after the gzip stream"};
  if (used > max_out) return Error{too_big(max_out)};
  out.resize(used);
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Compression compression_from_name(std::string_view f) {
  if (ends_with(f, ".ko.xz")) return Compression::kXz;
  if (ends_with(f, ".ko.zst")) return Compression::kZstd;
  if (ends_with(f, ".ko.gz")) return Compression::kGzip;
  return Compression::kNone;
}

std::string_view compression_suffix(Compression c) {
  switch (c) {
    case Compression::kXz:
      return ".xz";
    case Compression::kZstd:
      return ".zst";
    case Compression::kGzip:
      return ".gz";
    default:
      return "";
  }
}

Compression compression_from_magic(std::span<const std::uint8_t> d) {
  static constexpr std::uint8_t kXzMagic[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
  static constexpr std::uint8_t kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};
  if (d.size() >= 6 && std::memcmp(d.data(), kXzMagic, 6) == 0) return Compression::kXz;
  if (d.size() >= 4 && std::memcmp(d.data(), kZstdMagic, 4) == 0) return Compression::kZstd;
  if (d.size() >= 2 && d[0] == 0x1f && d[1] == 0x8b) return Compression::kGzip;
  return Compression::kNone;
}

Result<std::vector<std::uint8_t>> decompress(std::span<const std::uint8_t> data, Compression c,
                                             std::size_t max_out) {
  switch (c) {
    case Compression::kXz:
      return unxz(data, max_out);
    case Compression::kZstd:
      return unzstd(data, max_out);
    case Compression::kGzip:
      return gunzip(data, max_out);
    default:
      return std::vector<std::uint8_t>(data.begin(), data.end());
  }
}

}  // namespace modgate::policy
