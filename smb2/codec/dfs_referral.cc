#include "smb2/codec/dfs_referral.h"

#include <algorithm>

#include "smb2/codec/body.h"
#include "smb2/codec/errors.h"
#include "smb2/codec/wire.h"

namespace smbgate::smb2 {
namespace {

// Fixed parts of the entries (MS-DFSC 2.2.5.1-2.2.5.4): V1 before its
// inline ShareName; V2 through NetworkAddressOffset; V3/V4 through
// ServiceSiteGuid (a name list entry has the same 34 bytes, its last 16
// padding, as Windows sends it).
constexpr std::size_t kV1Fixed = 8;
constexpr std::size_t kV2Fixed = 22;
constexpr std::size_t kV3Fixed = 34;
// The smallest entry, to cap NumberOfReferrals before allocating.
constexpr std::size_t kMinEntry = kV1Fixed;

// A NUL-terminated UTF-16LE string starting at `off` of `buf` and ending (NUL
// included) at or before `end` (<= buf.size()). False if it runs past `end`
// or is not UTF-16.
bool ReadSz(ByteSpan buf, std::size_t off, std::size_t end, std::string* out, std::size_t* consumed = nullptr) {
  if (end > buf.size() || off > end) return false;
  for (std::size_t i = off; end - i >= 2; i += 2) {
    if (buf[i] == 0 && buf[i + 1] == 0) {
      if (consumed) *consumed = i + 2 - off;
      out->clear();
      return DecodeUtf16(buf.subspan(off, i - off), out);
    }
  }
  return false;
}

void PutSz(WireWriter& w, const std::string& s) {
  PutUtf16(w, s);
  w.U16(0);
}

}  // namespace

// MS-DFSC 2.2.2: MaxReferralLevel, RequestFileName (NUL-terminated).
Bytes EncodeDfsReferralRequest(const DfsReferralRequest& r) {
  WireWriter w;
  w.U16(r.max_referral_level);
  PutSz(w, r.request_file_name);
  return w.Take();
}

Result<DfsReferralRequest> DecodeDfsReferralRequest(ByteSpan p) {
  WireReader r(p);
  DfsReferralRequest q;
  q.max_referral_level = r.U16();
  if (!r.ok() || !ReadSz(p, 2, p.size(), &q.request_file_name)) return errc::malformed_response;
  return q;
}

// MS-DFSC 2.2.3: MaxReferralLevel, RequestFlags, RequestDataLength, then
// RequestData (2.2.3.1): RequestFileNameLength, RequestFileName, and with
// the SiteName flag SiteNameLength, SiteName. Lengths in bytes; the strings
// are not NUL-terminated.
Bytes EncodeDfsReferralRequestEx(const DfsReferralRequestEx& r) {
  WireWriter w;
  w.U16(r.max_referral_level);
  w.U16(r.request_flags);
  const std::size_t len_at = w.pos();
  w.U32(0);
  const std::size_t data_start = w.pos();
  w.U16(static_cast<std::uint16_t>(Utf16Size(r.request_file_name)));
  PutUtf16(w, r.request_file_name);
  if (r.request_flags & kDfsRequestFlagSiteName) {
    w.U16(static_cast<std::uint16_t>(Utf16Size(r.site_name)));
    PutUtf16(w, r.site_name);
  }
  w.PutU32At(len_at, static_cast<std::uint32_t>(w.pos() - data_start));
  return w.Take();
}

Result<DfsReferralRequestEx> DecodeDfsReferralRequestEx(ByteSpan p) {
  WireReader r(p);
  DfsReferralRequestEx q;
  q.max_referral_level = r.U16();
  q.request_flags = r.U16();
  const std::uint32_t data_len = r.U32();
  if (!r.ok() || data_len > r.remaining()) return errc::malformed_response;
  WireReader d(r.Bytes(data_len));
  const std::uint16_t name_len = d.U16();
  ByteSpan name = d.Bytes(name_len);
  ByteSpan site;
  if (q.request_flags & kDfsRequestFlagSiteName) {
    const std::uint16_t site_len = d.U16();
    site = d.Bytes(site_len);
  }
  if (!r.ok() || !d.ok() || !DecodeUtf16(name, &q.request_file_name) || !DecodeUtf16(site, &q.site_name)) {
    return errc::malformed_response;
  }
  return q;
}

// MS-DFSC 2.2.4: PathConsumed, NumberOfReferrals, ReferralHeaderFlags, the
// entries one after the other (each Size bytes), then the strings that V2-V4
// entries point at with offsets from the start of their own entry.
Bytes EncodeDfsReferralResponse(const DfsReferralResponse& resp) {
  WireWriter w;
  w.U16(resp.path_consumed);
  w.U16(static_cast<std::uint16_t>(resp.referrals.size()));
  w.U32(resp.referral_header_flags);
  struct Pending {
    std::size_t entry_start;
    std::size_t offset_field;  // where the 16-bit offset goes
    std::vector<const std::string*> strings;  // written back to back
  };
  std::vector<Pending> pending;
  for (const DfsReferralEntry& e : resp.referrals) {
    const std::size_t start = w.pos();
    w.U16(e.version_number);
    const std::size_t size_at = w.pos();
    w.U16(0);
    w.U16(e.server_type);
    w.U16(e.referral_entry_flags);
    if (e.version_number == 1) {
      PutSz(w, e.network_address);
    } else if (e.version_number == 2) {
      w.U32(e.proximity);
      w.U32(e.time_to_live);
      for (const std::string* s : {&e.dfs_path, &e.dfs_alternate_path, &e.network_address}) {
        pending.push_back({start, w.pos(), {s}});
        w.U16(0);
      }
    } else {
      w.U32(e.time_to_live);
      if (e.referral_entry_flags & kDfsNameListReferral) {
        pending.push_back({start, w.pos(), {&e.special_name}});
        w.U16(0);
        w.U16(static_cast<std::uint16_t>(e.expanded_names.size()));
        Pending names{start, w.pos(), {}};
        for (const std::string& n : e.expanded_names) names.strings.push_back(&n);
        pending.push_back(std::move(names));
        w.U16(0);
        w.Zeros(kV3Fixed - (w.pos() - start));
      } else {
        for (const std::string* s : {&e.dfs_path, &e.dfs_alternate_path, &e.network_address}) {
          pending.push_back({start, w.pos(), {s}});
          w.U16(0);
        }
        w.Bytes(ByteSpan(e.service_site_guid.data(), e.service_site_guid.size()));
      }
    }
    w.PutU16At(size_at, static_cast<std::uint16_t>(w.pos() - start));
  }
  for (const Pending& p : pending) {
    w.PutU16At(p.offset_field, static_cast<std::uint16_t>(w.pos() - p.entry_start));
    for (const std::string* s : p.strings) PutSz(w, *s);
  }
  return w.Take();
}

Result<DfsReferralResponse> DecodeDfsReferralResponse(ByteSpan p) {
  WireReader r(p);
  DfsReferralResponse resp;
  resp.path_consumed = r.U16();
  const std::uint16_t count = r.U16();
  resp.referral_header_flags = r.U32();
  if (!r.ok()) return errc::malformed_response;
  if (count > kMaxDfsReferrals || count > r.remaining() / kMinEntry) return errc::malformed_response;
  resp.referrals.reserve(count);
  std::size_t at = r.pos();
  const std::size_t n = p.size();
  std::size_t canonical = at;
  for (std::uint16_t k = 0; k < count; ++k) {
    if (at > n || n - at < kMinEntry) return errc::malformed_response;
    WireReader e(p.subspan(at));
    DfsReferralEntry d;
    d.version_number = e.U16();
    const std::uint16_t size = e.U16();
    d.server_type = e.U16();
    d.referral_entry_flags = e.U16();
    if (size > n - at) return errc::malformed_response;
    const std::size_t entry_end = at + size;
    // A string of a V2-V4 entry: at `off` from the entry's start, anywhere
    // in the response after the entry's fixed part would be too strict
    // (Windows shares one string between entries), so only "inside the
    // buffer, NUL-terminated" is required.
    auto str = [&](std::uint16_t off, std::string* out) { return ReadSz(p, at + off, n, out); };
    switch (d.version_number) {
      case 1:
        // MS-DFSC 2.2.5.1: ShareName inline, inside the entry.
        if (size < kV1Fixed || !ReadSz(p, at + kV1Fixed, entry_end, &d.network_address)) {
          return errc::malformed_response;
        }
        break;
      case 2: {
        if (size < kV2Fixed) return errc::malformed_response;
        d.proximity = e.U32();
        d.time_to_live = e.U32();
        const std::uint16_t path_off = e.U16(), alt_off = e.U16(), addr_off = e.U16();
        if (!e.ok() || !str(path_off, &d.dfs_path) || !str(alt_off, &d.dfs_alternate_path) ||
            !str(addr_off, &d.network_address)) {
          return errc::malformed_response;
        }
        break;
      }
      case 3:
      case 4: {
        // MS-DFSC 2.2.5.3: a name list entry's fixed part is 18 bytes plus
        // padding; the others' 34.
        const bool name_list = d.referral_entry_flags & kDfsNameListReferral;
        if (size < (name_list ? 18u : kV3Fixed)) return errc::malformed_response;
        d.time_to_live = e.U32();
        if (name_list) {
          const std::uint16_t special_off = e.U16(), names = e.U16(), names_off = e.U16();
          if (!e.ok() || !str(special_off, &d.special_name)) return errc::malformed_response;
          if (names > kMaxDfsExpandedNames) return errc::malformed_response;
          std::size_t pos = at + names_off;
          for (std::uint16_t i = 0; i < names; ++i) {
            std::string name;
            std::size_t used = 0;
            if (!ReadSz(p, pos, n, &name, &used)) return errc::malformed_response;
            d.expanded_names.push_back(std::move(name));
            pos += used;
          }
        } else {
          const std::uint16_t path_off = e.U16(), alt_off = e.U16(), addr_off = e.U16();
          ByteSpan guid = e.Bytes(16);
          if (!e.ok() || !str(path_off, &d.dfs_path) || !str(alt_off, &d.dfs_alternate_path) ||
              !str(addr_off, &d.network_address)) {
            return errc::malformed_response;
          }
          std::copy(guid.begin(), guid.end(), d.service_site_guid.begin());
        }
        break;
      }
      default:
        return errc::malformed_response;
    }
    if (!e.ok()) return errc::malformed_response;
    // The response laid out once per string (as EncodeDfsReferralResponse
    // does) must fit the 16-bit offsets; a server's own response is bounded
    // by MaxOutputResponse, so only a hostile one sharing strings among
    // many entries comes near this.
    canonical += d.version_number == 1 ? kV1Fixed : d.version_number == 2 ? kV2Fixed : kV3Fixed;
    for (const std::string* s : {&d.dfs_path, &d.dfs_alternate_path, &d.network_address, &d.special_name}) {
      canonical += Utf16Size(*s) + 2;
    }
    for (const std::string& s : d.expanded_names) canonical += Utf16Size(s) + 2;
    if (canonical > 0xFFFF) return errc::malformed_response;
    resp.referrals.push_back(std::move(d));
    at = entry_end;
  }
  return resp;
}

}  // namespace smbgate::smb2
