// SPDX-License-Identifier: Apache-2.0
// pullget: one fetch_once() (agent/fleet/pull.h) from the command line, so a VM scenario drives
// the agent's own libcurl path against a server inside the guest (scenarios/https_smoke.sh).
//
//   pullget [--ca FILE] [--etag ETAG] [--max-bytes N] [--connect-timeout S] [--timeout S]
//           [-o FILE] [--etag-out FILE] URL
//
// Prints "pullget: <kind> status=<http status> etag=<etag> bytes=<n>" on stdout, and the error
// line on stderr. Exit status: 0 new content (written to -o FILE), 3 not modified, 1 error,
// 2 usage.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "agent/fleet/pull.h"

namespace
{

int usage(const char *why)
{
	if (why != nullptr)
		std::cerr << "pullget: " << why << "\n";
	std::cerr << "usage: pullget [--ca FILE] [--etag ETAG] [--max-bytes N] [--connect-timeout "
		     "S]\n"
		     "               [--timeout S] [-o FILE] [--etag-out FILE] URL\n"
		     "exit: 0 new (body to -o FILE), 3 not modified, 1 error, 2 usage\n"
		     "example: pullget --ca /tmp/https/ca.pem -o /tmp/b https://127.0.0.1:8443/b\n";
	return why == nullptr ? 0 : 2;
}

bool write_file(const std::string &path, const std::string &data)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << data;
	return static_cast<bool>(out.flush());
}

} // namespace

int main(int argc, char **argv)
{
	modgate::fleet::PullConfig c;
	std::string etag, out, etag_out;
	for (int i = 1; i < argc; ++i) {
		const std::string a = argv[i];
		auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
		const char *v = nullptr;
		if (a == "-h" || a == "--help")
			return usage(nullptr);
		if (a == "--ca" || a == "--etag" || a == "--max-bytes" ||
		    a == "--connect-timeout" || a == "--timeout" || a == "-o" ||
		    a == "--etag-out") {
			if ((v = value()) == nullptr)
				return usage((a + " needs a value").c_str());
			if (a == "--ca")
				c.ca_file = v;
			if (a == "--etag")
				etag = v;
			if (a == "-o")
				out = v;
			if (a == "--etag-out")
				etag_out = v;
			if (a == "--max-bytes")
				c.max_bytes = std::strtoull(v, nullptr, 10);
			if (a == "--connect-timeout")
				c.connect_timeout =
					std::chrono::seconds{std::strtol(v, nullptr, 10)};
			if (a == "--timeout")
				c.total_timeout = std::chrono::seconds{std::strtol(v, nullptr, 10)};
		} else if (!a.empty() && a[0] == '-') {
			return usage(("unknown option " + a).c_str());
		} else if (c.url.empty()) {
			c.url = a;
		} else {
			return usage("one URL only");
		}
	}
	if (c.url.empty())
		return usage("no URL given");

	const auto r = modgate::fleet::fetch_once(c, etag);
	std::cout << "pullget: " << modgate::fleet::to_string(r.kind) << " status=" << r.http_status
		  << " etag=" << r.etag << " bytes=" << r.body.size() << "\n";
	switch (r.kind) {
	case modgate::fleet::PullKind::kNew:
		if (!out.empty() && !write_file(out, r.body)) {
			std::cerr << "pullget: cannot write " << out << "\n";
			return 1;
		}
		if (!etag_out.empty() && !write_file(etag_out, r.etag)) {
			std::cerr << "pullget: cannot write " << etag_out << "\n";
			return 1;
		}
		return 0;
	case modgate::fleet::PullKind::kNotModified:
		return 3;
	case modgate::fleet::PullKind::kError:
		std::cerr << "pullget: " << modgate::fleet::to_string(r.error) << ": " << r.message
			  << "\n";
		return 1;
	}
	return 1;
}
