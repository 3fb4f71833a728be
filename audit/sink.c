/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c - where the audit stream goes: a file, an inherited fd, a
 * unix stream socket, or a callback.  Writes happen on the writer thread
 * only; they wait for the sink in steps of at most 100 ms so that close can
 * give up on a sink that never drains (a pipe nobody reads) instead of
 * hanging.  Pipes: after POLLOUT a write of at most PIPE_BUF bytes does not
 * block; sockets are written with MSG_DONTWAIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "audit_priv.h"

int petri__audit_sink_open(struct petri_audit_sink *s, const petri_audit_opts *o, petri_error **err)
{
	s->kind = o->sink;
	s->fd = -1;
	switch (o->sink) {
	case PETRI_AUDIT_SINK_FILE:
		if (!o->path || !*o->path)
			return petri__err(err, EINVAL, "audit sink: file sink without a path");
		/* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
		 * hanging the open; writes poll first anyway. */
		s->fd = open(o->path,
			     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			     0600);
		if (s->fd < 0)
			return petri__err(err, errno, "audit sink: open %s", o->path);
		struct stat fst;
		if (fstat(s->fd, &fst) == 0) /* a path may name a FIFO or a device */
			s->is_pipe = S_ISFIFO(fst.st_mode) || S_ISCHR(fst.st_mode);
		return 0;
	case PETRI_AUDIT_SINK_FD: {
		if (o->fd < 0)
			return petri__err(err, EBADF, "audit sink: fd %d", o->fd);
		s->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 3);
		if (s->fd < 0)
			return petri__err(err, errno, "audit sink: duplicate fd %d", o->fd);
		struct stat st;
		if (fstat(s->fd, &st) == 0) {
			s->is_socket = S_ISSOCK(st.st_mode);
			s->is_pipe = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
		}
		return 0;
	}
	case PETRI_AUDIT_SINK_UNIX: {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (!o->path || !*o->path || strlen(o->path) >= sizeof(sa.sun_path))
			return petri__err(err, EINVAL, "audit sink: bad unix socket path");
		strcpy(sa.sun_path, o->path);
		s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			return petri__err(err, errno, "audit sink: socket");
		if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;
			close(s->fd);
			s->fd = -1;
			return petri__err(err, e, "audit sink: connect %s", o->path);
		}
		s->is_socket = 1;
		return 0;
	}
	case PETRI_AUDIT_SINK_CALLBACK:
		if (!o->sink_fn)
			return petri__err(err, EINVAL, "audit sink: callback sink without sink_fn");
		s->fn = o->sink_fn;
		s->userdata = o->sink_userdata;
		return 0;
	default:
		return petri__err(err, EINVAL, "audit sink: unknown sink kind %u", o->sink);
	}
}

/* The writer thread blocks every signal (audit.c), so a write to a pipe
 * whose reader is gone leaves a SIGPIPE pending on the thread instead of
 * killing the host: take it. */
static void consume_sigpipe(void)
{
	sigset_t set;
	struct timespec zero = {0, 0};
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) == SIGPIPE) {
	}
}

int petri__audit_sink_write(struct petri_audit_sink *s, const uint8_t *data, size_t len,
			    const atomic_int *abort)
{
	if (s->kind == PETRI_AUDIT_SINK_CALLBACK) {
		int r = s->fn(data, len, s->userdata);
		return r < 0 ? r : 0;
	}
	while (len) {
		if (atomic_load(abort))
			return -ECANCELED;
		struct pollfd p = {.fd = s->fd, .events = POLLOUT};
		int pr = poll(&p, 1, 100);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		if (p.revents & (POLLERR | POLLNVAL))
			return p.revents & POLLNVAL ? -EBADF : -EPIPE;
		ssize_t n;
		if (s->is_socket)
			n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(s->fd, data, s->is_pipe && len > PIPE_BUF ? PIPE_BUF : len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			int e = errno;
			if (e == EPIPE)
				consume_sigpipe();
			return -e;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void petri__audit_sink_close(struct petri_audit_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
