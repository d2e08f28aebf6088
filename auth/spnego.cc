// SPNEGO tokens (RFC 4178 4.2, MS-SPNG 2.2) and the NTLMSSP-only initiator
// (RFC 4178 3.2, MS-SPNG 3.3.5).
#include "auth/spnego.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "auth/der.h"

namespace smbgate::auth {
namespace {

using der::Context;

template <std::size_t N>
bool IsOid(ByteSpan value, const std::uint8_t (&oid)[N]) {
  return value.size() == N && std::memcmp(value.data(), oid, N) == 0;
}

template <std::size_t N>
Bytes OidBytes(const std::uint8_t (&oid)[N]) {
  return Bytes(oid, oid + N);
}

Bytes ToBytes(ByteSpan s) { return Bytes(s.begin(), s.end()); }

// The single element an EXPLICIT [n] wrapper holds; nullopt when it holds
// none, more than one, or a malformed one.
std::optional<der::Element> Unwrap(ByteSpan explicit_value) {
  der::Reader r(explicit_value);
  auto e = r.Next();
  if (!e || !r.empty() || !r.ok()) return std::nullopt;
  return e;
}

// Iterates the fields of a SEQUENCE of EXPLICIT context-tagged optional
// fields, enforcing the increasing tag order DER requires. `fn(n, inner)`
// returns false to reject a field.
template <class Fn>
bool ForEachTaggedField(ByteSpan sequence_value, unsigned max_tag, Fn fn) {
  der::Reader r(sequence_value);
  int last = -1;
  while (!r.empty()) {
    auto e = r.Next();
    if (!e) return false;
    if ((e->tag & 0xe0) != 0xa0) return false;  // context, constructed
    const int n = e->tag & 0x1f;
    if (n <= last || n > static_cast<int>(max_tag)) return false;
    last = n;
    auto inner = Unwrap(e->value);
    if (!inner || !fn(static_cast<unsigned>(n), *inner)) return false;
  }
  return r.ok();
}

// The contents of the one SEQUENCE that `value` must consist of.
std::optional<ByteSpan> SequenceContents(ByteSpan value) {
  auto seq = Unwrap(value);
  if (!seq || seq->tag != der::kSequence) return std::nullopt;
  return seq->value;
}

bool DecodeMechTypeList(const der::Element& e, std::vector<Bytes>* out) {
  if (e.tag != der::kSequence) return false;
  der::Reader r(e.value);
  while (!r.empty()) {
    auto oid = r.Expect(der::kOid);
    if (!oid || oid->value.empty() || out->size() == kMaxMechTypes)
      return false;
    out->push_back(ToBytes(oid->value));
  }
  return r.ok() && !out->empty();
}

// MS-SPNG 2.2.1 NegHints ::= SEQUENCE { hintName [0] GeneralString
// OPTIONAL, hintAddress [1] OCTET STRING OPTIONAL }.
bool DecodeNegHints(ByteSpan contents, NegTokenInit* t) {
  return ForEachTaggedField(
      contents, 1, [t](unsigned n, const der::Element& v) {
        if (n == 0) {
          if (v.tag != der::kGeneralString) return false;
          t->neg_hints_name.emplace(v.value.begin(), v.value.end());
        } else {
          if (v.tag != der::kOctetString) return false;
          t->neg_hints_address = ToBytes(v.value);
        }
        return true;
      });
}

}  // namespace

std::string OidToString(ByteSpan oid) {
  // X.690 8.19: base-128 subidentifiers, the first holding X*40 + Y.
  std::string out;
  std::uint64_t v = 0;
  bool first = true;
  for (std::size_t i = 0; i < oid.size(); ++i) {
    const std::uint8_t b = oid[i];
    if (v == 0 && b == 0x80) return "?";    // non-minimal
    if (v > (UINT64_MAX >> 7)) return "?";  // overflow
    v = (v << 7) | (b & 0x7f);
    if (b & 0x80) continue;
    if (first) {
      const std::uint64_t x = v < 40 ? 0 : (v < 80 ? 1 : 2);
      out = std::to_string(x) + "." + std::to_string(v - 40 * x);
      first = false;
    } else {
      out += '.';  // two appends: GCC 12 -O3 warns (-Wrestrict) on "." + std::string
      out += std::to_string(v);
    }
    v = 0;
  }
  if (oid.empty() || (oid.back() & 0x80)) return "?";
  return out;
}

Bytes EncodeMechTypeList(const std::vector<Bytes>& mech_types) {
  Bytes list;
  for (const Bytes& m : mech_types) der::Append(&list, der::kOid, m);
  return der::Encode(der::kSequence, list);
}

Bytes EncodeNegTokenInit(const NegTokenInit& t) {
  Bytes fields;
  der::Append(&fields, Context(0), EncodeMechTypeList(t.mech_types));
  if (t.req_flags) {
    der::Append(&fields, Context(1),
                der::Encode(der::kBitString, *t.req_flags));
  }
  if (t.mech_token) {
    der::Append(&fields, Context(2),
                der::Encode(der::kOctetString, *t.mech_token));
  }
  const bool hints = t.neg_hints_name || t.neg_hints_address;
  if (hints) {
    Bytes h;
    if (t.neg_hints_name) {
      der::Append(&h, Context(0),
                  der::Encode(der::kGeneralString, AsBytes(*t.neg_hints_name)));
    }
    if (t.neg_hints_address) {
      der::Append(&h, Context(1),
                  der::Encode(der::kOctetString, *t.neg_hints_address));
    }
    der::Append(&fields, Context(3), der::Encode(der::kSequence, h));
  }
  if (t.mech_list_mic) {
    der::Append(&fields, Context(hints ? 4 : 3),
                der::Encode(der::kOctetString, *t.mech_list_mic));
  }
  Bytes inner;
  der::Append(&inner, der::kOid, oid::kSpnego);
  der::Append(&inner, Context(0), der::Encode(der::kSequence, fields));
  return der::Encode(der::kApplication0, inner);
}

Bytes EncodeNegTokenResp(const NegTokenResp& t) {
  Bytes fields;
  if (t.neg_state) {
    const std::uint8_t s = static_cast<std::uint8_t>(*t.neg_state);
    der::Append(&fields, Context(0),
                der::Encode(der::kEnumerated, ByteSpan(&s, 1)));
  }
  if (t.supported_mech) {
    der::Append(&fields, Context(1), der::Encode(der::kOid, *t.supported_mech));
  }
  if (t.response_token) {
    der::Append(&fields, Context(2),
                der::Encode(der::kOctetString, *t.response_token));
  }
  if (t.mech_list_mic) {
    der::Append(&fields, Context(3),
                der::Encode(der::kOctetString, *t.mech_list_mic));
  }
  return der::Encode(Context(1), der::Encode(der::kSequence, fields));
}

Result<NegTokenInit> DecodeNegTokenInit(ByteSpan token) {
  der::Reader top(token);
  auto outer = top.Next();
  if (!outer || !top.empty()) return errc::malformed_token;

  ByteSpan choice;  // the contents of the [0] NegotiationToken choice
  if (outer->tag == der::kApplication0) {
    // RFC 2743 3.1 InitialContextToken: thisMech then the inner token.
    der::Reader app(outer->value);
    auto mech = app.Expect(der::kOid);
    if (!mech) return errc::malformed_token;
    if (!IsOid(mech->value, oid::kSpnego)) return errc::unexpected_message;
    auto inner = app.Next();
    if (!inner || !app.empty()) return errc::malformed_token;
    if (inner->tag != Context(0)) return errc::unexpected_message;
    choice = inner->value;
  } else if (outer->tag == Context(0)) {
    choice = outer->value;
  } else {
    return errc::unexpected_message;
  }

  const auto contents = SequenceContents(choice);
  if (!contents) return errc::malformed_token;
  NegTokenInit t;
  const bool ok =
      ForEachTaggedField(*contents, 4, [&t](unsigned n, const der::Element& v) {
        switch (n) {
          case 0:
            return DecodeMechTypeList(v, &t.mech_types);
          case 1:
            if (v.tag != der::kBitString) return false;
            t.req_flags = ToBytes(v.value);
            return true;
          case 2:
            if (v.tag != der::kOctetString) return false;
            t.mech_token = ToBytes(v.value);
            return true;
          case 3:
            // RFC 4178 puts mechListMIC here; MS-SPNG NegTokenInit2 puts
            // negHints here (a SEQUENCE) and mechListMIC at [4].
            if (v.tag == der::kSequence) return DecodeNegHints(v.value, &t);
            if (v.tag != der::kOctetString) return false;
            t.mech_list_mic = ToBytes(v.value);
            return true;
          default:  // 4
            if (v.tag != der::kOctetString || t.mech_list_mic) return false;
            t.mech_list_mic = ToBytes(v.value);
            return true;
        }
      });
  // mechTypes is the one mandatory field (RFC 4178 4.2.1).
  if (!ok || t.mech_types.empty()) return errc::malformed_token;
  return t;
}

Result<NegTokenResp> DecodeNegTokenResp(ByteSpan token) {
  der::Reader top(token);
  auto outer = top.Next();
  if (!outer || !top.empty()) return errc::malformed_token;
  if (outer->tag != Context(1)) return errc::unexpected_message;
  const auto contents = SequenceContents(outer->value);
  if (!contents) return errc::malformed_token;
  NegTokenResp t;
  const bool ok =
      ForEachTaggedField(*contents, 3, [&t](unsigned n, const der::Element& v) {
        switch (n) {
          case 0:
            if (v.tag != der::kEnumerated || v.value.size() != 1 ||
                v.value[0] > 3) {
              return false;
            }
            t.neg_state = static_cast<NegState>(v.value[0]);
            return true;
          case 1:
            if (v.tag != der::kOid || v.value.empty()) return false;
            t.supported_mech = ToBytes(v.value);
            return true;
          case 2:
            if (v.tag != der::kOctetString) return false;
            t.response_token = ToBytes(v.value);
            return true;
          default:  // 3
            if (v.tag != der::kOctetString) return false;
            t.mech_list_mic = ToBytes(v.value);
            return true;
        }
      });
  if (!ok) return errc::malformed_token;
  return t;
}

// ---- SpnegoNtlmClient -------------------------------------------------------

SpnegoNtlmClient::SpnegoNtlmClient(NtlmClient ntlm) : ntlm_(std::move(ntlm)) {}

Result<Bytes> SpnegoNtlmClient::Start(ByteSpan server_hint) {
  if (state_ != State::kInitial) return errc::invalid_state;
  if (!server_hint.empty()) {
    auto hint = DecodeNegTokenInit(server_hint);
    if (!hint) return hint.error();
    const bool offered =
        std::any_of(hint->mech_types.begin(), hint->mech_types.end(),
                    [](const Bytes& m) { return IsOid(m, oid::kNtlmssp); });
    if (!offered) return errc::mechanism_rejected;
  }
  NegTokenInit init;
  init.mech_types = {OidBytes(oid::kNtlmssp)};
  init.mech_token = ntlm_.Negotiate();
  // The mechListMIC covers exactly the MechTypeList we send (RFC 4178 5).
  mech_types_der_ = EncodeMechTypeList(init.mech_types);
  state_ = State::kStarted;
  return EncodeNegTokenInit(init);
}

Result<Bytes> SpnegoNtlmClient::Continue(ByteSpan server_token) {
  if (state_ != State::kStarted) return errc::invalid_state;
  auto resp = DecodeNegTokenResp(server_token);
  if (!resp) return resp.error();
  if (resp->neg_state == NegState::kReject) return errc::mechanism_rejected;
  // NTLM needs a second round trip, so the server cannot be done yet.
  if (resp->neg_state == NegState::kAcceptCompleted)
    return errc::unexpected_message;
  if (resp->supported_mech && !IsOid(*resp->supported_mech, oid::kNtlmssp)) {
    return errc::mechanism_rejected;
  }
  if (!resp->response_token) return errc::unexpected_message;

  auto authenticate = ntlm_.Authenticate(*resp->response_token);
  if (!authenticate) return authenticate.error();

  // We always send the mechListMIC: NTLM puts a MIC in the AUTHENTICATE, and
  // MS-SPNG 3.3.5.1 then requires it; it also answers request-mic.
  NegTokenResp out;
  out.response_token = std::move(*authenticate);
  out.mech_list_mic = ntlm_.SignMic(mech_types_der_);
  state_ = State::kContinued;
  return EncodeNegTokenResp(out);
}

Result<void> SpnegoNtlmClient::Finish(ByteSpan server_token) {
  if (state_ != State::kContinued) return errc::invalid_state;
  if (server_token.empty()) {
    state_ = State::kDone;
    return {};
  }
  auto resp = DecodeNegTokenResp(server_token);
  if (!resp) return resp.error();
  if (resp->neg_state == NegState::kReject) return errc::mechanism_rejected;
  if (resp->neg_state != NegState::kAcceptCompleted)
    return errc::unexpected_message;
  if (resp->supported_mech && !IsOid(*resp->supported_mech, oid::kNtlmssp)) {
    return errc::mechanism_rejected;
  }
  // With a single mechanism on offer no downgrade is possible, so an absent
  // mechListMIC is acceptable (RFC 4178 5); a present one must verify.
  if (resp->mech_list_mic) {
    SMBGATE_TRY_VOID(ntlm_.VerifyMic(mech_types_der_, *resp->mech_list_mic));
  }
  state_ = State::kDone;
  return {};
}

}  // namespace smbgate::auth
