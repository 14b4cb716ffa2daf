// SPDX-License-Identifier: Apache-2.0
// `modgate policy check|show|diff|init`: the operator's tools for writing and reviewing policies
// before an agent ever loads them (docs/policy.md, "Commands").
#include "policy/policy.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/policy_io.h"
#include "agent/cli/style.h"
#include "agent/util/atomic_file.h"
#include "policy/bundle.h"
#include "policy/diff.h"
#include "policy/dpkg.h"
#include "policy/init.h"
#include "policy/package.h"
#include "policy/report.h"
#include "policy/suggest.h"

namespace modgate::cli {

// Parse errors already name the file and position, one per line; they go out as they are so
// editors and CI annotators can jump to them.
Result<policy::Policy> load_policy_file(const std::string& file, bool bundle_ok) {
  auto text = policy::read_policy_text(file);
  if (!text) return text.error();
  if (bundle_ok && policy::looks_like_bundle(*text)) {
    auto b = policy::read_unverified_bundle(*text, file);
    if (!b) return b.error();
    std::cerr << file << ": a signed bundle (key " << b->header.key_id << ", version "
              << b->header.version << ", created " << policy::utc_time_string(b->header.created)
              << "); its signature is not checked here: 'modgate policy verify --trust DIR " << file
              << "' checks it\n";
    if (auto c = policy::compile(b->policy); !c) return Error{file + ": " + c.error().message};
    return std::move(b->policy);
  }
  // Without a trust store a bundle's policy is only a claim; say how to check it instead of
  // printing YAML errors about its header.
  if (policy::looks_like_bundle(*text))
    return Error{file +
                 ": is a signed policy bundle, not a policy file; check it with 'modgate "
                 "policy verify --trust DIR " +
                 file + "' (-o FILE extracts the policy)"};
  auto p = policy::parse_policy(*text, file);
  // The text is not needed past the parse; released now, a fleet-size file does not add to what
  // compile() holds (docs/performance.md).
  std::string().swap(*text);
  if (!p) return p;
  for (const auto& w : p->warnings) std::cerr << w << "\n";
  // Everything compile() refuses the parser refuses first; this keeps `check` honest should the
  // two ever drift apart.
  if (auto c = policy::compile(*p); !c) return Error{file + ": " + c.error().message};
  return p;
}

int write_generated(const std::string& me, const policy::Policy& p,
                    const std::vector<std::string>& header, const std::string& output) {
  std::string yaml = policy::policy_to_yaml(p, header);
  auto back = policy::parse_policy(yaml, output.empty() ? "<output>" : output);
  if (!back || back->digest != p.digest) {
    std::cerr << me << ": internal error: generated policy does not read back"
              << (back ? "" : ":\n" + back.error().message) << "\n";
    return kExitFailure;
  }
  if (output.empty() || output == "-") {
    std::cout << yaml;
  } else if (auto w = write_output_file(output, yaml, 0644); !w) {
    std::cerr << me << ": " << w.error().message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

namespace {

Result<policy::Policy> load(const std::string& file) { return load_policy_file(file); }

struct PolicyOptions {
  std::vector<std::string> check_files;
  std::string check_covers;
  bool quiet = false;
  bool check_json = false;
  std::string show_file;
  bool show_json = false, show_modules = false;
  std::string diff_old, diff_new;
  bool diff_json = false;
  bool diff_exit_code = false;
  std::string init_from, init_kernel, init_mode = "dry-run", init_output;
  std::vector<std::string> init_packages;
  bool init_keep_going = false;
  bool init_verify_dpkg = false;
  std::string init_dpkg_admindir = "/var/lib/dpkg";
  unsigned init_jobs = 0;
  std::vector<std::string> suggest_events;
  std::string suggest_policy, suggest_output;
  bool suggest_json = false;
};

// "FILE:LINE:COL: message" lines as objects, for scripts and editors.
nlohmann::ordered_json problems_json(const std::string& messages) {
  static const std::regex located(R"(^(.*):([0-9]+):([0-9]+): (.*)$)");
  auto out = nlohmann::ordered_json::array();
  std::istringstream in(messages);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (std::regex_match(line, m, located))
      out.push_back({{"file", m[1]},
                     {"line", std::stoul(m[2])},
                     {"column", std::stoul(m[3])},
                     {"message", m[4]}});
    else
      out.push_back({{"message", line}});
  }
  return out;
}

// Whether a policy lets every module of a tree load on the tree's kernel: what an initramfs built
// from that tree needs before it may enforce there (docs/boot.md). A compressed module is covered
// when its file or its payload is listed: kmod loads one or the other.
bool covers(const policy::Policy& p, const std::string& file, const std::string& dir) {
  std::string release = dir;
  while (release.size() > 1 && release.back() == '/') release.pop_back();
  release = release.substr(release.find_last_of('/') + 1);
  bool ok = true;
  if (!policy::kernel_matches(p, release)) {
    std::cerr << file << ": its kernels list does not include " << release << " (the release of "
              << dir << ")\n";
    ok = false;
  }
  policy::InitOptions io;
  io.root = dir;
  auto tree = policy::scan_module_tree(io);
  if (!tree) {
    std::cerr << "modgate policy check: " << tree.error().message << "\n";
    return false;
  }
  for (const auto& problem : tree->problems) {
    std::cerr << "modgate policy check: " << problem << "\n";
    ok = false;
  }
  std::set<Sha256> listed;
  for (const auto& e : p.modules) listed.insert(e.sha256);
  std::map<std::string, std::pair<std::string, bool>> files;  // path -> (name, covered)
  for (const auto& e : tree->policy.modules) {
    auto& f = files[e.path.value_or(e.name)];
    f.first = e.name;
    f.second = f.second || listed.count(e.sha256) > 0;
  }
  for (const auto& [path, f] : files) {
    if (f.second) continue;
    std::cerr << file << ": does not list " << dir << "/" << path << " (" << f.first << ")\n";
    ok = false;
  }
  return ok;
}

int run_check(const PolicyOptions& o) {
  int rc = kExitOk;
  const Style out = Style::for_fd(1), err = Style::for_fd(2);
  auto files = nlohmann::ordered_json::array();
  for (const auto& f : o.check_files) {
    auto p = load(f);
    if (!p) {
      rc = kExitFailure;
      if (o.check_json) {
        files.push_back(
            {{"file", f}, {"valid", false}, {"problems", problems_json(p.error().message)}});
        continue;
      }
      std::istringstream lines(p.error().message);
      for (std::string line; std::getline(lines, line);) std::cerr << err.bad(line) << "\n";
      continue;
    }
    if (!o.check_covers.empty() && !covers(*p, f, o.check_covers)) {
      rc = kExitFailure;
      if (o.check_json) files.push_back({{"file", f}, {"valid", true}, {"covers", false}});
      continue;
    }
    if (o.check_json)
      files.push_back({{"file", f},
                       {"valid", true},
                       {"version", p->version},
                       {"mode", policy::mode_name(p->mode)},
                       {"modules", p->modules.size()},
                       // null: no section, the kind is left to the kernel.
                       {"firmware", p->firmware ? nlohmann::ordered_json(p->firmware->size())
                                                : nlohmann::ordered_json(nullptr)},
                       {"kexec", p->kexec ? nlohmann::ordered_json(p->kexec->size())
                                          : nlohmann::ordered_json(nullptr)},
                       {"digest", to_hex(p->digest)},
                       {"warnings", p->warnings}});
    else if (!o.quiet)
      std::cout << f << ": " << out.good("ok") << ", "
                << out.mode(std::string(policy::mode_name(p->mode))) << ", " << p->modules.size()
                << " module entries, "
                << (p->firmware ? std::to_string(p->firmware->size()) + " firmware entries, " : "")
                << (p->kexec ? std::to_string(p->kexec->size()) + " kexec entries, " : "")
                << "digest " << to_hex(p->digest) << "\n";
  }
  if (o.check_json) std::cout << nlohmann::ordered_json{{"files", files}}.dump(2) << "\n";
  return rc;
}

int run_show(const PolicyOptions& o) {
  auto p = load_policy_file(o.show_file, /*bundle_ok=*/true);
  if (!p) {
    std::cerr << p.error().message << "\n";
    return kExitFailure;
  }
  std::cout << (o.show_json ? policy::show_json(*p, o.show_file)
                            : policy::show_text(*p, o.show_file, o.show_modules));
  return kExitOk;
}

int run_diff(const PolicyOptions& o) {
  auto a = load_policy_file(o.diff_old, /*bundle_ok=*/true);
  auto b = load_policy_file(o.diff_new, /*bundle_ok=*/true);
  if (!a || !b) {
    if (!a) std::cerr << a.error().message << "\n";
    if (!b) std::cerr << b.error().message << "\n";
    // With --exit-code, 1 means "they differ", so trouble is 2, as diff(1) has it.
    return o.diff_exit_code ? kExitUsage : kExitFailure;
  }
  auto d = policy::diff_policies(*a, *b);
  const int rc = o.diff_exit_code && !d.empty() ? kExitFailure : kExitOk;
  if (o.diff_json) {
    std::cout << policy::diff_json(d, *a, *b);
    return rc;
  }
  const Style out = Style::for_fd(1);
  std::istringstream lines(policy::diff_text(d, *a, *b));
  for (std::string line; std::getline(lines, line);) {
    // Module lines start with the sign; setting lines carry it after the key ("autoload: + x").
    bool plus = line.rfind("+ ", 0) == 0 || line.find(": + ") != std::string::npos;
    bool minus = line.rfind("- ", 0) == 0 || line.find(": - ") != std::string::npos;
    std::cout << (plus ? out.added(line) : minus ? out.removed(line) : line) << "\n";
  }
  return rc;
}

// Writes a policy this command generated, to OUTPUT or stdout ("" or "-"). The text must read
// back as the policy it was generated from; anything else is a bug here, and a policy that does
// not load is worse than none.
int run_init(const PolicyOptions& o) {
  policy::InitOptions io;
  io.mode = o.init_mode == "enforce" ? policy::Mode::kEnforce : policy::Mode::kDryRun;
  io.threads = o.init_jobs;
  if (!o.init_kernel.empty()) io.kernel = o.init_kernel;
  if (!o.init_from.empty()) {
    io.root = o.init_from;
  } else if (o.init_packages.empty()) {
    std::string release = o.init_kernel;
    if (release.empty()) {
      struct utsname u {};
      if (::uname(&u) != 0) {
        std::cerr << "modgate policy init: uname failed; give --from DIR or --kernel RELEASE\n";
        return kExitFailure;
      }
      release = u.release;
      io.kernel = release;
    }
    io.root = "/lib/modules/" + release;
  }
  std::string source = io.root;
  if (!o.init_packages.empty()) source.clear();
  for (const auto& deb : o.init_packages) source += (source.empty() ? "" : ", ") + deb;

  auto report = o.init_packages.empty() ? policy::scan_module_tree(io)
                                        : policy::scan_packages(o.init_packages, io);
  if (!report) {
    std::cerr << "modgate policy init: " << report.error().message << "\n";
    return kExitFailure;
  }
  if (o.init_verify_dpkg) {
    auto records = policy::read_dpkg_md5sums(
        o.init_dpkg_admindir, std::filesystem::path(io.root).lexically_normal().filename());
    if (!records) {
      std::cerr << "modgate policy init: --verify-dpkg: " << records.error().message << "\n";
      return kExitFailure;
    }
    policy::keep_dpkg_verified(*report, io.root, *records);
  }
  for (const auto& p : report->problems) std::cerr << "modgate policy init: " << p << "\n";
  std::cerr << "modgate policy init: " << report->files << " module files, "
            << report->policy.modules.size() << " entries, " << report->problems.size()
            << " problems\n";
  if (!report->problems.empty() && !o.init_keep_going) {
    std::cerr << "modgate policy init: no policy written; fix the files above or pass "
                 "--keep-going to leave them out\n";
    return kExitFailure;
  }

  std::vector<std::string> header = {
      "modgate policy generated by 'modgate policy init' from " + source,
      std::to_string(report->files) + " module files, " +
          std::to_string(report->policy.modules.size()) + " entries" +
          (report->problems.empty() ? std::string()
                                    : ", " + std::to_string(report->problems.size()) +
                                          " files left out (see init output)"),
      "Review it, run in dry-run until the events show nothing unexpected, then set mode: enforce.",
      "Format: docs/policy.md"};
  if (o.init_verify_dpkg)
    header.insert(header.begin() + 2, "Only files matching dpkg's md5sums in " +
                                          o.init_dpkg_admindir + " (--verify-dpkg)");
  return write_generated("modgate policy init", report->policy, header, o.init_output);
}

// Event files read back to back, each ending its last line, with where each one starts so that a
// line of the whole names its file and its own line again.
struct EventFiles {
  std::string text;
  struct Part {
    std::string file;
    std::size_t first_line;  // 1-based line of the whole where the file starts
  };
  std::vector<Part> parts;

  // "LINE: reason" of the whole as "FILE:LINE: reason" of the file it came from.
  std::string where(const std::string& m) const {
    std::size_t line = std::strtoull(m.c_str(), nullptr, 10);
    const Part* part = &parts.front();
    for (const auto& p : parts)
      if (p.first_line <= line) part = &p;
    return part->file + ":" + std::to_string(line - part->first_line + 1) + m.substr(m.find(':'));
  }
};

Result<EventFiles> read_event_files(const std::vector<std::string>& files) {
  EventFiles out;
  std::size_t lines = 0;
  bool stdin_used = false;
  for (const auto& f : files) {
    std::string text;
    if (f == "-") {
      if (stdin_used) return Error{"'-' (standard input) can be given only once"};
      stdin_used = true;
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      if (std::cin.bad()) return Error{"error reading standard input"};
    } else {
      std::ifstream in(f, std::ios::binary);
      if (!in) return Error{"cannot read " + f};
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (in.bad()) return Error{"error reading " + f};
    }
    if (!text.empty() && text.back() != '\n') text += '\n';
    out.parts.push_back({f, lines + 1});
    lines += static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    out.text += text;
  }
  return out;
}

// Proposes entries from deny/would-deny events; the operator reviews the summary and the file.
int run_suggest(const PolicyOptions& o) {
  const std::string me = "modgate policy suggest: ";
  std::optional<policy::Policy> old;
  if (!o.suggest_policy.empty()) {
    auto p = load(o.suggest_policy);
    if (!p) {
      std::cerr << p.error().message << "\n";
      return kExitFailure;
    }
    old = std::move(*p);
  }
  auto events = read_event_files(o.suggest_events);
  if (!events) {
    std::cerr << me << events.error().message << "\n";
    return kExitFailure;
  }
  auto r = policy::suggest_from_events(events->text, old ? &*old : nullptr);
  for (auto& m : r.malformed) m = events->where(m);
  std::string sources;
  for (const auto& f : o.suggest_events) sources += (sources.empty() ? "" : ", ") + f;
  if (o.suggest_json) {
    // The report for a review tool; the proposed policy goes to -o when given.
    auto j = nlohmann::ordered_json{{"events", o.suggest_events},
                                    {"lines", r.lines},
                                    {"denials", r.denials},
                                    {"already_listed", r.already_listed},
                                    {"malformed", r.malformed},
                                    {"proposed_version", r.proposed.version},
                                    {"suggestions", nlohmann::ordered_json::array()}};
    for (const auto& sg : r.suggestions)
      j["suggestions"].push_back({{"name", sg.name},
                                  {"sha256", to_hex(sg.sha256)},
                                  {"count", sg.count},
                                  {"hosts", sg.hosts},
                                  {"path", sg.path ? nlohmann::ordered_json(*sg.path) : nullptr}});
    std::cout << j.dump(2) << "\n";
    if (r.suggestions.empty() || o.suggest_output.empty() || o.suggest_output == "-")
      return kExitOk;
    if (auto w = write_output_file(o.suggest_output, policy::policy_to_yaml(r.proposed, {}), 0644);
        !w) {
      std::cerr << me << w.error().message << "\n";
      return kExitFailure;
    }
    return kExitOk;
  }
  if (r.suggestions.empty()) {
    for (const auto& m : r.malformed) std::cerr << m << " (line skipped)\n";
    std::cerr << me << r.lines << " lines, " << r.malformed.size() << " malformed, " << r.denials
              << " denied loads, " << r.already_listed
              << " already listed: nothing to add, no policy written\n";
    return kExitOk;
  }

  std::vector<std::string> header = {
      "modgate policy proposed by 'modgate policy suggest' from " + sources +
          (old ? " and " + o.suggest_policy : std::string()),
      std::to_string(r.suggestions.size()) + " entries suggested from " +
          std::to_string(r.denials) + " denied loads; review every one before applying.",
      "Format: docs/policy.md"};
  std::string yaml = policy::policy_to_yaml(r.proposed, header);
  auto back = policy::parse_policy(yaml, "<proposed>");
  if (!back || back->digest != r.proposed.digest) {
    std::cerr << me << "internal error: proposed policy does not read back"
              << (back ? "" : ":\n" + back.error().message) << "\n";
    return kExitFailure;
  }

  // The summary goes where the policy does not, so `suggest > new.yaml` stays a clean file.
  bool yaml_to_stdout = o.suggest_output.empty() || o.suggest_output == "-";
  std::ostream& sum = yaml_to_stdout ? std::cerr : std::cout;
  for (const auto& m : r.malformed) sum << m << " (line skipped)\n";
  sum << r.lines << " lines, " << r.malformed.size() << " malformed, " << r.denials
      << " denied loads, " << r.already_listed << " already listed, " << r.suggestions.size()
      << " hashes to add\n";
  for (const auto& s : r.suggestions) {
    sum << "  " << s.name << " " << to_hex(s.sha256) << " x" << s.count << " on";
    for (const auto& [host, n] : s.hosts) sum << " " << host << "(" << n << ")";
    sum << "\n";
  }
  policy::Policy base = old ? *old : policy::Policy{};
  sum << policy::diff_text(policy::diff_policies(base, r.proposed), base, r.proposed);

  if (yaml_to_stdout) {
    std::cout << yaml;
  } else if (auto w = write_output_file(o.suggest_output, yaml, 0644); !w) {
    std::cerr << me << w.error().message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Runner register_policy(CLI::App& app) {
  auto o = std::make_shared<PolicyOptions>();
  auto* grp = app.add_subcommand("policy",
                                 "Check, inspect, compare, generate, sign and verify policy files");
  grp->require_subcommand(1);
  grp->footer("The policy format is described in docs/policy.md; signed bundles in docs/fleet.md.");

  auto* check = grp->add_subcommand(
      "check", "Validate policy files; print every problem as FILE:LINE:COL: message");
  check->add_option("FILE", o->check_files, "Policy files")->required();
  check->add_flag("-q,--quiet", o->quiet, "Print nothing for valid files");
  check->add_flag("--json", o->check_json,
                  "Print one JSON object: each file, valid or not, with its problems as "
                  "file/line/column/message");
  check->add_option(
      "--covers", o->check_covers,
      "Also require that the policy allows every module file under DIR, a module "
      "tree named after its kernel release (e.g. an initramfs's lib/modules/RELEASE), "
      "on that kernel");
  check->footer(
      "Exit status: 0 if every file is valid, 1 otherwise (problems on standard error).\n\n"
      "Examples:\n  modgate policy check /etc/modgate/policy.yaml\n"
      "  modgate policy check --json new.yaml | jq '.files[].problems'\n"
      "  modgate policy check --covers /lib/modules/$(uname -r) /etc/modgate/policy.yaml");

  auto* show = grp->add_subcommand("show", "Print a policy's canonical digest and a summary");
  show->add_option("FILE", o->show_file,
                   "Policy file, or a bundle (its signature is not checked: 'policy verify' does)")
      ->required();
  show->add_flag("--json", o->show_json, "Print the whole policy as one JSON object");
  show->add_flag("--modules", o->show_modules, "List every module entry");
  show->footer(
      "The digest is what the kernel reports as the policy in force (docs/policy.md, 'Canonical "
      "form').\n\nExamples:\n  modgate policy show /etc/modgate/policy.yaml\n"
      "  modgate policy show --json policy.yaml | jq .digest");

  auto* diff = grp->add_subcommand(
      "diff", "Show modules added and removed (by name and hash) and settings changed");
  diff->add_option("OLD", o->diff_old, "The policy in force (a file or a bundle)")->required();
  diff->add_option("NEW", o->diff_new, "The policy to compare with it (a file or a bundle)")
      ->required();
  diff->add_flag("--json", o->diff_json, "Print the differences as one JSON object");
  diff->add_flag("--exit-code", o->diff_exit_code,
                 "Exit 1 when the policies differ and 0 when they do not, as diff(1) does; an "
                 "invalid file then exits 2");
  diff->footer(
      "Exit status: 0 when both files are valid, whether or not they differ; 1 otherwise.\n"
      "With --exit-code: 0 no differences, 1 differences, 2 an invalid file.\n\n"
      "Examples:\n  modgate policy diff /etc/modgate/policy.yaml new-policy.yaml\n"
      "  modgate policy diff --exit-code old.yaml new.yaml || echo changed");

  auto* init =
      grp->add_subcommand("init", "Generate a policy that allows every module in a module tree");
  auto* from =
      init->add_option("--from", o->init_from, "Module tree (default /lib/modules/RELEASE)");
  auto* from_package =
      init->add_option(
              "--from-package", o->init_packages,
              "Debian kernel package (.deb) to read instead of a tree, without installing it "
              "(repeatable)")
          ->excludes(from);
  init->add_option("--kernel", o->init_kernel,
                   "Kernel release: the tree to read without --from or --from-package, and the "
                   "'kernels' entry (default: uname -r, or the release in the modules' vermagic "
                   "with --from or --from-package)");
  init->add_option("--mode", o->init_mode, "Mode of the generated policy")
      ->check(CLI::IsMember({"dry-run", "enforce"}));
  init->add_option("-o,--output", o->init_output, "Write the policy here (default: stdout)");
  init->add_flag("--keep-going", o->init_keep_going,
                 "Write the policy even if some files could not be read (they are left out)");
  init->add_option("-j,--jobs", o->init_jobs, "Hashing threads (default: one per CPU)");
  auto* verify_dpkg =
      init->add_flag("--verify-dpkg", o->init_verify_dpkg,
                     "List only files whose bytes match the md5sums dpkg recorded for the package "
                     "that installed them; any other file is a problem (as dpkg --verify); "
                     "not with --from-package, whose files no dpkg installed")
          ->excludes(from_package);
  init->add_option("--dpkg-admindir", o->init_dpkg_admindir, "dpkg's database for --verify-dpkg")
      ->capture_default_str()
      ->needs(verify_dpkg);
  init->footer(
      "Every .ko, .ko.xz, .ko.zst and .ko.gz is hashed. A compressed module gets two entries: the\n"
      "file as on disk (what finit_module with in-kernel decompression reads) and the "
      "decompressed\n"
      "payload (what modprobe loads after decompressing in userspace).\n"
      "--from-package reads the modules of Debian kernel packages (linux-image-RELEASE before "
      "7.x,\n"
      "linux-modules-RELEASE from 7.x) without installing them: the same policy as --from on the\n"
      "unpacked tree. All must be of one release.\n"
      "Exit status: 0 when a policy was written; 1 when a file could not be read (and nothing was\n"
      "written unless --keep-going) or a package is not a readable .deb.\n"
      "With --verify-dpkg (what the kernel hooks use), a file dpkg did not install (DKMS, by\n"
      "hand) or whose MD5 differs from dpkg's record is a problem and is not listed.\n\n"
      "Examples:\n  modgate policy init -o /etc/modgate/policy.yaml\n"
      "  modgate policy init --from-package linux-modules-7.3.4+deb13-amd64_*.deb -o 7.3.yaml\n"
      "  modgate policy init --kernel 6.12.95+deb12-amd64 --verify-dpkg --keep-going -o new.yaml");

  auto* suggest = grp->add_subcommand(
      "suggest", "Propose entries to add from deny and would-deny module_load events");
  suggest
      ->add_option("--events", o->suggest_events,
                   "JSON-lines event files, read one after the other (repeat the option or "
                   "list several); - reads standard input")
      ->required()
      ->expected(1, -1);
  suggest->add_option("--policy", o->suggest_policy,
                      "The policy in force: the proposal adds to it with its version + 1");
  suggest->add_flag("--json", o->suggest_json,
                    "Print the report as one JSON object (suggestions with hash, count, hosts, "
                    "path); the proposed policy is then written only with -o");
  suggest->add_option("-o,--output", o->suggest_output,
                      "Write the proposed policy here (default: stdout)");
  suggest->footer(
      "Events are grouped by sha256 with their name, hosts (an event's optional \"host\" field,\n"
      "else \"unknown\") and counts. Malformed lines are skipped and named. The summary and a\n"
      "'policy diff' against the old policy go to standard error when the policy goes to stdout.\n"
      "Exit status: 0 when a proposal was written; 1 when a file could not be read.\n\n"
      "Malformed lines are named FILE:LINE of the file they are in.\n\n"
      "Examples:\n"
      "  modgate policy suggest --events host*/events.jsonl --policy /etc/modgate/policy.yaml "
      "-o new.yaml\n"
      "  journalctl -u modgate -o cat | modgate policy suggest --events - --json | jq "
      "'.suggestions[].name'");

  auto bundle = register_policy_bundle(*grp);
  auto kernels = register_policy_kernels(*grp);

  return [o, check, show, diff, init, suggest, bundle, kernels]() -> int {
    if (auto rc = bundle()) return *rc;
    if (auto rc = kernels()) return *rc;
    if (init->parsed()) return run_init(*o);
    if (suggest->parsed()) return run_suggest(*o);
    if (check->parsed()) return run_check(*o);
    if (show->parsed()) return run_show(*o);
    if (diff->parsed()) return run_diff(*o);
    return kExitUsage;
  };
}

}  // namespace modgate::cli
