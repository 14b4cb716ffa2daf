// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/docgen.h"

#include <sstream>
#include <vector>

namespace modgate::cli {
namespace {

// Text into roff: a backslash is an escape, a line starting with '.' or '\'' is a request, and
// '-' must be \- to stay a minus sign that can be searched and copied.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

std::vector<CLI::App*> visible_subcommands(CLI::App* app) {
  std::vector<CLI::App*> out;
  for (CLI::App* sub : app->get_subcommands({}))
    if (!sub->get_group().empty()) out.push_back(sub);
  return out;
}

std::string option_label(const CLI::Option* opt) {
  if (opt->get_positional() && opt->get_lnames().empty() && opt->get_snames().empty())
    return opt->get_name();
  std::string label;
  for (const auto& s : opt->get_snames()) label += (label.empty() ? "-" : ", -") + s;
  for (const auto& l : opt->get_lnames()) label += (label.empty() ? "--" : ", --") + l;
  if (opt->get_type_size() != 0) label += " " + opt->get_type_name();
  return label;
}

void man_command(std::ostringstream& out, CLI::App* app, const std::string& path) {
  out << ".SS \"" << roff(path) << "\"\n" << roff(app->get_description()) << "\n";
  bool any = false;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_name() == "--help") continue;
    if (!any) out << ".PP\nOptions:\n";
    any = true;
    out << ".TP\n.B " << roff(option_label(opt)) << "\n" << roff(opt->get_description());
    if (!opt->get_default_str().empty() && opt->get_type_size() != 0)
      out << " (default: " << roff(opt->get_default_str()) << ")";
    out << "\n";
  }
  if (!app->get_footer().empty()) out << ".PP\n.nf\n" << roff(app->get_footer()) << "\n.fi\n";
  for (CLI::App* sub : visible_subcommands(app))
    man_command(out, sub, path + " " + sub->get_name());
}

void completion_case(std::ostringstream& out, CLI::App* app, const std::string& key) {
  std::string words;
  std::string path_opts;
  for (CLI::App* sub : visible_subcommands(app)) words += sub->get_name() + " ";
  for (const CLI::Option* opt : app->get_options()) {
    for (const auto& l : opt->get_lnames()) {
      words += "--" + l + " ";
      if (opt->get_type_size() != 0) path_opts += "--" + l + "|";
    }
    for (const auto& s : opt->get_snames()) words += "-" + s + " ";
  }
  out << "\t\"" << key << "\")\n";
  if (!path_opts.empty()) {
    path_opts.pop_back();
    out << "\t\tcase $prev in " << path_opts
        << ") COMPREPLY=($(compgen -f -- \"$cur\")); return 1 ;; esac\n";
  }
  out << "\t\tcommands=\"";
  for (CLI::App* sub : visible_subcommands(app)) out << sub->get_name() << " ";
  out << "\"\n\t\twords=\"" << words << "\" ;;\n";
  for (CLI::App* sub : visible_subcommands(app))
    completion_case(out, sub, key.empty() ? sub->get_name() : key + " " + sub->get_name());
}

}  // namespace

std::string man_page(CLI::App& app, const std::string& version, const std::string& date) {
  std::ostringstream out;
  out << ".TH MODGATE 8 \"" << date << "\" \"modgate " << version
      << "\" \"System Administration\"\n"
      << ".SH NAME\nmodgate \\- allow only approved kernel modules into the kernel\n"
      << ".SH SYNOPSIS\n.B modgate\n.I COMMAND\n[\\fIOPTIONS\\fR]\n"
      << ".SH DESCRIPTION\n"
      << roff(app.get_description()) << "\n.PP\n"
      << roff(
             "The agent (modgate run) loads BPF LSM programs that hash every module the kernel is "
             "about to load (finit_module, init_module, and the kernel's own autoload requests) "
             "and deny what the policy does not list. The other commands inspect and generate "
             "policies, talk to the running agent, and audit the loaded modules.")
      << "\n.SH COMMANDS\n";
  for (CLI::App* sub : visible_subcommands(&app))
    man_command(out, sub, "modgate " + sub->get_name());
  out << ".SH EXIT STATUS\n"
      << ".TP\n0\nSuccess.\n"
      << ".TP\n1\nThe command ran and failed or found a problem (an invalid or refused policy, "
         "an unreadable file, no agent answering, audit findings).\n"
      << ".TP\n2\nThe command line is wrong.\n"
      << ".SH ENVIRONMENT\n.TP\n.B NO_COLOR\nWhen set and not empty, output is never colored. "
         "Color is otherwise used only when standard output is a terminal.\n"
      << ".SH FILES\n"
      << ".TP\n/etc/modgate/\nConfiguration and policy.\n"
      << ".TP\n/sys/fs/bpf/modgate/\nPinned programs and maps: enforcement outlives the agent.\n"
      << ".TP\n/run/modgate/modgate.sock\nThe running agent's control socket.\n"
      << ".TP\n/var/lib/modgate/\nState kept across restarts.\n"
      << ".SH SEE ALSO\n"
      << ".BR modprobe (8),\n.BR insmod (8),\n.BR init_module (2),\n.BR bpf (2)\n";
  return out.str();
}

std::string bash_completion(CLI::App& app) {
  std::ostringstream out;
  out << "# bash completion for modgate; generated from its command line definition.\n"
      << "_modgate() {\n"
      << "\tlocal cur prev key= commands words i w\n"
      << "\tcur=${COMP_WORDS[COMP_CWORD]}\n"
      << "\tprev=${COMP_WORDS[COMP_CWORD-1]}\n"
      << "\t# The command path so far: the words naming (sub)commands, options skipped.\n"
      << "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "\t\tw=${COMP_WORDS[i]}\n"
      << "\t\tcase $w in -*) continue ;; esac\n"
      << "\t\tcase \" $(_modgate_commands \"$key\") \" in\n"
      << "\t\t*\" $w \"*) key=${key:+$key }$w ;;\n"
      << "\t\tesac\n"
      << "\tdone\n"
      << "\t_modgate_words \"$key\" || return\n"
      << "\tif [[ $cur == -* ]]; then\n"
      << "\t\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      << "\telif [[ -n $commands ]]; then\n"
      << "\t\tCOMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
      << "\telse\n"
      << "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
      << "\tfi\n"
      << "}\n"
      << "_modgate_commands() {\n"
      << "\tlocal commands words prev=\n"
      << "\t_modgate_words \"$1\"\n"
      << "\techo \"$commands\"\n"
      << "}\n"
      << "# Sets commands and words for a command path; with $prev an option taking a path,\n"
      << "# completes file names itself and returns 1.\n"
      << "_modgate_words() {\n"
      << "\tcase $1 in\n";
  completion_case(out, &app, "");
  out << "\tesac\n\treturn 0\n}\ncomplete -o filenames -F _modgate modgate\n";
  return out.str();
}

}  // namespace modgate::cli
