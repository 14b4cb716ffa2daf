// SPDX-License-Identifier: Apache-2.0

#include "agent/events.h"

#include <bpf/btf.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "policy/init.h"
#include "policy/sha256.h"

namespace modgate {
namespace {

std::int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Kernel strings are fixed arrays that may lack a NUL when full.
std::string bounded(const char* s, size_t cap) { return std::string(s, strnlen(s, cap)); }

// "cramfs.ko.xz" -> "cramfs": what modprobe calls the module (dashes and underscores are the
// same to the kernel; the file name's spelling is kept).
std::string module_name_from_file(std::string file) {
  for (std::string_view ext : {".ko.xz", ".ko.zst", ".ko.gz", ".ko"}) {
    if (file.size() > ext.size() && file.ends_with(ext))
      return file.substr(0, file.size() - ext.size());
  }
  return file;
}

// The module's own name (.modinfo) when the file at path still holds the bytes the kernel judged:
// the name then describes exactly what was hashed.
std::optional<std::string> name_from_modinfo(const std::string& path, const std::uint8_t* sha) {
  if (path.empty()) return std::nullopt;
  auto entries = policy::module_file_entries(path, path);
  if (!entries) return std::nullopt;
  for (const auto& entry : *entries)
    if (std::memcmp(entry.sha256.data(), sha, entry.sha256.size()) == 0) return entry.name;
  return std::nullopt;
}

}  // namespace

const char* hook_name(std::uint32_t hook) {
  switch (hook) {
    case MG_HOOK_KERNEL_READ_FILE:
      return "kernel_read_file";
    case MG_HOOK_KERNEL_POST_READ_FILE:
      return "kernel_post_read_file";
    case MG_HOOK_KERNEL_LOAD_DATA:
      return "kernel_load_data";
    case MG_HOOK_KERNEL_POST_LOAD_DATA:
      return "kernel_post_load_data";
    case MG_HOOK_KERNEL_MODULE_REQUEST:
      return "kernel_module_request";
    default:
      return "unknown";
  }
}

const char* kind_name(std::uint32_t kind) {
  switch (kind) {
    case MG_KIND_MODULE:
      return "module";
    case MG_KIND_FIRMWARE:
      return "firmware";
    case MG_KIND_KEXEC_IMAGE:
      return "kexec_image";
    case MG_KIND_KEXEC_INITRAMFS:
      return "kexec_initramfs";
    default:
      return "unknown";
  }
}

const char* verdict_name(std::uint32_t verdict) {
  switch (verdict) {
    case MG_VERDICT_ALLOW:
      return "allow";
    case MG_VERDICT_DENY:
      return "deny";
    case MG_VERDICT_WOULD_DENY:
      return "would-deny";
    default:
      return "unknown";
  }
}

const char* reason_name(std::uint32_t reason) {
  switch (reason) {
    case MG_REASON_LISTED:
      return "listed";
    case MG_REASON_NOT_LISTED:
      return "not-listed";
    case MG_REASON_FORCED:
      return "forced";
    case MG_REASON_HASH_FAILED:
      return "hash-failed";
    case MG_REASON_NO_POLICY:
      return "no-policy";
    case MG_REASON_AUTOLOAD_ALLOW:
      return "autoload-allow";
    case MG_REASON_AUTOLOAD_DENY:
      return "autoload-deny";
    case MG_REASON_AUTOLOAD_DEFAULT:
      return "autoload-default";
    case MG_REASON_NOT_HASHABLE:
      return "not-hashable";
    default:
      return "unknown";
  }
}

const char* tamper_op_name(std::uint32_t op) {
  switch (op) {
    case MG_TAMPER_MAP_FD:
      return "bpf-map-fd";
    case MG_TAMPER_PROG_FD:
      return "bpf-prog-fd";
    case MG_TAMPER_LINK_FD:
      return "bpf-link-fd";
    case MG_TAMPER_PROG_LOAD:
      return "bpf-prog-load";
    case MG_TAMPER_PIN_OPEN:
      return "pin-open";
    case MG_TAMPER_PIN_UNLINK:
      return "pin-unlink";
    case MG_TAMPER_PIN_RENAME:
      return "pin-rename";
    case MG_TAMPER_PIN_RMDIR:
      return "pin-rmdir";
    case MG_TAMPER_UMOUNT:
      return "umount";
    case MG_TAMPER_SIGNAL:
      return "signal";
    case MG_TAMPER_PTRACE:
      return "ptrace";
    case MG_TAMPER_MODPROBE_PATH:
      return "modprobe-path-write";
    case MG_TAMPER_AGENT_FILE:
      return "agent-file-write";
    case MG_TAMPER_FTRACE:
      return "ftrace-write";
    case MG_TAMPER_SIGIO:
      return "sigio";
    case MG_TAMPER_RLIMIT:
      return "rlimit";
    case MG_TAMPER_LOCKDOWN:
      return "lockdown";
    default:
      return "unknown";
  }
}

namespace {

// uapi/linux/bpf.h: the program types a tamper event may name.
const char* prog_type_name(std::uint32_t type) {
  switch (type) {
    case 26:
      return "tracing";  // BPF_PROG_TYPE_TRACING, here fmod_ret
    case 29:
      return "lsm";  // BPF_PROG_TYPE_LSM
    default:
      return "unknown";
  }
}

// The running kernel's name for a lockdown reason ("dev_mem" for LOCKDOWN_DEV_MEM): the values
// differ between kernels, so the BPF side reports the number and the kernel's BTF names it.
std::string lockdown_reason_name(std::uint32_t value) {
  static const std::map<std::uint32_t, std::string> names = [] {
    std::map<std::uint32_t, std::string> out;
    struct btf* btf = btf__load_vmlinux_btf();
    if (!btf) return out;
    int id = btf__find_by_name_kind(btf, "lockdown_reason", BTF_KIND_ENUM);
    if (id > 0) {
      const struct btf_type* t = btf__type_by_id(btf, static_cast<__u32>(id));
      const struct btf_enum* e = btf_enum(t);
      for (unsigned i = 0; i < btf_vlen(t); i++, e++) {
        std::string name = btf__name_by_offset(btf, e->name_off);
        if (name.rfind("LOCKDOWN_", 0) == 0) name.erase(0, 9);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.emplace(static_cast<std::uint32_t>(e->val), name);
      }
    }
    btf__free(btf);
    return out;
  }();
  auto it = names.find(value);
  return it != names.end() ? it->second : "reason-" + std::to_string(value);
}

// The fields a tamper event carries beyond the common ones (modgate_abi.h says which mg_event
// field holds what for each operation).
// RLIMIT_* numbers are the same on every Linux architecture modgate runs on (asm-generic).
std::string rlimit_name(std::uint32_t resource) {
  static constexpr const char* kNames[] = {
      "cpu",     "fsize", "data",  "stack",      "core",     "rss",  "nproc",  "nofile",
      "memlock", "as",    "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"};
  return resource < std::size(kNames) ? kNames[resource] : std::to_string(resource);
}

void tamper_fields(nlohmann::ordered_json& j, const mg_event& e) {
  std::string name = bounded(e.name, sizeof(e.name));
  auto name_or_null = [&] { return name.empty() ? nlohmann::json(nullptr) : nlohmann::json(name); };
  switch (e.reason) {
    case MG_TAMPER_MAP_FD:
    case MG_TAMPER_PROG_FD:
    case MG_TAMPER_LINK_FD:
      j["object_id"] = e.entry;
      if (e.reason != MG_TAMPER_LINK_FD) j["name"] = name_or_null();
      break;
    case MG_TAMPER_PROG_LOAD:
      j["prog_type"] = prog_type_name(e.entry);
      j["name"] = name_or_null();
      break;
    case MG_TAMPER_PIN_OPEN:
    case MG_TAMPER_PIN_UNLINK:
    case MG_TAMPER_PIN_RENAME:
    case MG_TAMPER_PIN_RMDIR:
    case MG_TAMPER_AGENT_FILE:
    case MG_TAMPER_MODPROBE_PATH:
    case MG_TAMPER_FTRACE:
      j["name"] = name_or_null();
      j["inode"] = e.size;
      break;
    case MG_TAMPER_UMOUNT:
      j["mount_id"] = e.entry;
      j["fstype"] = name_or_null();
      break;
    case MG_TAMPER_SIGNAL:
    case MG_TAMPER_SIGIO:
      j["signal"] = e.entry;
      j["target_pid"] = e.size;
      break;
    case MG_TAMPER_PTRACE:
      j["ptrace_mode"] = e.entry;
      j["target_pid"] = e.size;
      break;
    case MG_TAMPER_LOCKDOWN:
      j["lockdown_reason"] = lockdown_reason_name(e.entry);
      break;
    case MG_TAMPER_RLIMIT:
      j["resource"] = rlimit_name(e.entry);
      j["target_pid"] = e.size;
      break;
    default:
      break;
  }
}

}  // namespace

PolicyNames::Section PolicyNames::pack(const std::vector<policy::ModuleEntry>* entries) {
  Section s;
  if (!entries) return s;
  s.present = true;
  std::size_t total = 0;
  for (const auto& e : *entries) total += e.name.size();
  s.names.reserve(total);
  s.ends.reserve(entries->size());
  for (const auto& e : *entries) {
    s.names += e.name;
    s.ends.push_back(static_cast<std::uint32_t>(s.names.size()));
  }
  return s;
}

PolicyNames::PolicyNames(const policy::Policy& p)
    : version_(p.version),
      modules_(pack(&p.modules)),
      firmware_(pack(p.firmware ? &*p.firmware : nullptr)),
      kexec_(pack(p.kexec ? &*p.kexec : nullptr)) {}

const PolicyNames::Section* PolicyNames::section(std::uint32_t kind) const {
  // Each kind is listed in its own section, and the kernel's entry index points into that one.
  const Section* s = nullptr;
  if (kind == MG_KIND_MODULE)
    s = &modules_;
  else if (kind == MG_KIND_FIRMWARE)
    s = &firmware_;
  else if (kind == MG_KIND_KEXEC_IMAGE || kind == MG_KIND_KEXEC_INITRAMFS)
    s = &kexec_;
  return s && s->present ? s : nullptr;
}

std::optional<std::string_view> PolicyNames::name(std::uint32_t kind, std::uint32_t entry) const {
  const Section* s = section(kind);
  if (!s || entry >= s->ends.size()) return std::nullopt;
  const std::uint32_t begin = entry == 0 ? 0 : s->ends[entry - 1];
  return std::string_view(s->names).substr(begin, s->ends[entry] - begin);
}

std::size_t PolicyNames::bytes() const {
  std::size_t n = sizeof(*this);
  for (const Section* s : {&modules_, &firmware_, &kexec_})
    n += s->names.capacity() + s->ends.capacity() * sizeof(std::uint32_t);
  return n;
}

EventWriter::EventWriter(std::ostream& out)
    : out_(out), realtime_minus_boot_ns_(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME)) {}

std::optional<std::string> EventWriter::cached_name(const std::string& path,
                                                    const std::uint8_t* sha) {
  // A denied module is often retried in a loop; reading (and for .ko.xz decompressing) its file
  // each time would make the agent slower than the kernel's event stream.
  std::string key = path + '\0' + std::string(reinterpret_cast<const char*>(sha), 32);
  if (auto it = names_.find(key); it != names_.end()) return it->second;
  if (names_.size() >= 256) names_.clear();
  return names_[key] = name_from_modinfo(path, sha);
}

std::string EventWriter::timestamp(std::uint64_t boot_ns) const {
  std::int64_t ns = static_cast<std::int64_t>(boot_ns) + realtime_minus_boot_ns_;
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof(buf) - n, ".%09lldZ", static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

std::string EventWriter::write(const mg_event& e) {
  nlohmann::ordered_json j;
  j["ts"] = timestamp(e.ts_ns);
  if (e.event == MG_EVENT_TAMPER) {
    j["event"] = "tamper";
    j["verdict"] = verdict_name(e.verdict);
    j["operation"] = tamper_op_name(e.reason);
    tamper_fields(j, e);
  } else {
    module_fields(j, e);
  }
  j["pid"] = e.pid;
  j["tid"] = e.tid;
  j["comm"] = bounded(e.comm, sizeof(e.comm));
  j["uid"] = e.uid;
  j["policy_version"] = e.policy_version;
  j["mode"] = e.mode == MG_MODE_ENFORCE ? "enforce" : "dry-run";
  return emit(j);
}

void EventWriter::module_fields(nlohmann::ordered_json& j, const mg_event& e) {
  j["event"] = e.event == MG_EVENT_MODULE_REQUEST ? "module_request" : "module_load";
  j["verdict"] = verdict_name(e.verdict);
  j["reason"] = reason_name(e.reason);
  j["hook"] = hook_name(e.hook);
  std::string kname = bounded(e.name, sizeof(e.name));
  std::string path = bounded(e.path, sizeof(e.path));
  if (e.event == MG_EVENT_MODULE_REQUEST) {
    j["name"] = kname;
  } else {
    j["kind"] = kind_name(e.kind);
    bool has_hash = e.reason != MG_REASON_HASH_FAILED && e.reason != MG_REASON_NO_POLICY &&
                    e.reason != MG_REASON_NOT_HASHABLE;
    j["sha256"] = has_hash ? nlohmann::json(to_hex(e.sha256)) : nlohmann::json(nullptr);
    j["size"] = e.size;
    // The entry index belongs to the policy the kernel decided with; a record read after a swap
    // must not borrow a name from the next policy.
    std::optional<std::string_view> listed_name;
    if ((e.flags & MG_EVF_LISTED) && policy_ && policy_->version() == e.policy_version)
      listed_name = policy_->name(e.kind, e.entry);
    if (listed_name)
      j["name"] = std::string(*listed_name);
    else if (e.kind != MG_KIND_MODULE)
      // Firmware and kexec files have no .modinfo: the file's own name is the best there is.
      j["name"] = kname.empty() ? nlohmann::json(nullptr) : nlohmann::json(kname);
    else if (auto named = cached_name(path, e.sha256))
      j["name"] = *named;
    else if (!kname.empty())
      j["name"] = module_name_from_file(kname);
    else
      j["name"] = nullptr;
    j["path"] = path.empty() ? nlohmann::json(nullptr) : nlohmann::json(path);
    j["listed"] = (e.flags & MG_EVF_LISTED) != 0;
    j["forced"] = (e.flags & MG_EVF_FORCED) != 0;
    j["compressed"] = (e.flags & MG_EVF_COMPRESSED) != 0;
    // 7.x: the compressed file was not listed and its decompressed payload decided; sha256 and
    // size are the payload's.
    j["payload"] = (e.flags & MG_EVF_PAYLOAD) != 0;
    if (e.flags & MG_EVF_PAYLOAD) j["payload_sha256"] = to_hex(e.payload_sha256);
  }
}

// Invalid UTF-8 in a kernel-supplied string (a comm, a path) is replaced, never an exception.
std::string EventWriter::emit(const nlohmann::ordered_json& j) {
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out_ << line << "\n";
  out_.flush();
  return line;
}

void EventWriter::write_record(const nlohmann::ordered_json& record) {
  nlohmann::ordered_json j;
  j["ts"] = timestamp(static_cast<std::uint64_t>(now_ns(CLOCK_BOOTTIME)));
  for (const auto& [k, v] : record.items())
    if (k != "ts") j[k] = v;
  emit(j);
}

void EventWriter::write_lost(std::uint64_t count) {
  nlohmann::ordered_json j;
  j["ts"] = timestamp(static_cast<std::uint64_t>(now_ns(CLOCK_BOOTTIME)));
  j["event"] = "events_lost";
  j["count"] = count;
  emit(j);
}

void EventWriter::write_apply(const std::string& result, const std::string& source,
                              const std::string& file, bool forced, const std::string& message,
                              const nlohmann::ordered_json& details) {
  nlohmann::ordered_json j;
  j["ts"] = timestamp(static_cast<std::uint64_t>(now_ns(CLOCK_BOOTTIME)));
  j["event"] = "policy_apply";
  j["result"] = result;
  j["source"] = source;
  j["file"] = file;
  // Refused: the reason; applied: version, digest, effective mode, rollout, signer.
  j["version"] = details.value("version", std::uint64_t{0});
  j["digest"] = details.contains("digest") ? details["digest"] : nlohmann::ordered_json(nullptr);
  for (const auto& [k, v] : details.items())
    if (k != "version" && k != "digest") j[k] = v;
  j["forced"] = forced;
  j["message"] = message;
  out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out_.flush();
}

}  // namespace modgate
