// SPDX-License-Identifier: Apache-2.0
// Test helper: sends raw bytes to a Unix stream socket and prints what comes back, so the VM
// suite can feed the agent's control socket what no well-behaved client would.
//
//   sockpoke SOCKET STRING        send STRING as is (no newline added)
//   sockpoke SOCKET --repeat N C  send N copies of character C
//   sockpoke SOCKET --stall S     connect, send nothing, wait S seconds, then read
// Prints the reply (or "<closed>"); exits 0 when connected, 1 otherwise.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: sockpoke SOCKET STRING | --repeat N C | --stall S\n");
		return 2;
	}
	strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("sockpoke: connect");
		return 1;
	}
	if (strcmp(argv[2], "--repeat") == 0 && argc == 5) {
		size_t count = strtoul(argv[3], NULL, 10);
		char chunk[65536];

		memset(chunk, argv[4][0], sizeof(chunk));
		while (count > 0) {
			size_t k = count < sizeof(chunk) ? count : sizeof(chunk);
			if (send_all(fd, chunk, k) != 0)
				break; /* the agent may hang up first: that is an answer too */
			count -= k;
		}
	} else if (strcmp(argv[2], "--stall") == 0 && argc == 4) {
		sleep((unsigned)atoi(argv[3]));
	} else if (send_all(fd, argv[2], strlen(argv[2])) != 0) {
		perror("sockpoke: send");
	}
	shutdown(fd, SHUT_WR);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	} else {
		puts("<closed>");
	}
	close(fd);
	return 0;
}
