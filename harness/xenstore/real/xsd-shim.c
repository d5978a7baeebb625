/*
 * netlab's LD_PRELOAD shim for running Debian's real C xenstored without a hypervisor.
 * It fakes only what the daemon asks of Xen; request handling stays the daemon's own.
 * All state lives in the directory named by $XSD_SHIM_DIR:
 *   ring-<domid>   4096-byte file mapped MAP_SHARED as the domain's xenstore ring page
 *                  (grant ref 1 of domid; dom0's /proc/xen/xsd_kva is ring-0)
 *   xsd_port       text "<port>" for /proc/xen/xsd_port
 *   evtchn         FIFO: write a 4-byte port number to wake the daemon; port 1 is the
 *                  VIRQ_DOM_EXC port (the daemon then checks which domains died)
 *   dead-<domid>   present: xc_domain_getinfo reports the domain as gone
 * Every domid below DOMID_FIRST_RESERVED exists unless marked dead.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The few Xen library types the daemon passes us, declared here so that building the shim
 * needs no Xen headers. Handles are opaque; xc_dominfo_t is only written up to its flags
 * word (domid, ssidref, dying:1 crashed:1 shutdown:1 paused:1 blocked:1 running:1 ...). */
typedef struct xc_interface_core xc_interface;
typedef struct xengntdev_handle xengnttab_handle;
typedef struct xenevtchn_handle xenevtchn_handle;
typedef struct xentoollog_logger xentoollog_logger;
typedef uint32_t evtchn_port_t;
typedef int xenevtchn_port_or_error_t;
typedef struct xc_dominfo_prefix {
	uint32_t domid;
	uint32_t ssidref;
	unsigned int dying:1, crashed:1, shutdown:1, paused:1, blocked:1, running:1;
} xc_dominfo_t;
#define DOMID_FIRST_RESERVED 0x7FF0U

#define PAGE 4096
#define VIRQ_PORT 1
#define FIRST_BOUND_PORT 16

static char shim_handle_storage[64];
static int evtchn_fd = -1;
static int next_port = FIRST_BOUND_PORT;

static const char *shim_dir(void)
{
	const char *d = getenv("XSD_SHIM_DIR");
	return d ? d : ".";
}

static void shim_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", shim_dir(), name);
}

/* The daemon dies with the process that started it (a test runner killed mid-run leaves no
 * xenstored behind): a thread of ours polls for the parent's exit. PR_SET_PDEATHSIG alone is
 * not enough: it follows the thread that forked, not the process. */
static pid_t shim_parent;

static void *watch_parent(void *arg)
{
	(void)arg;
	for (;;) {
		if (getppid() != shim_parent)
			_exit(0);
		sleep(1);
	}
	return NULL;
}

__attribute__((constructor)) static void die_with_parent(void)
{
	pthread_t t;
	if (!getenv("XSD_SHIM_DIR"))
		return;
	shim_parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pthread_create(&t, NULL, watch_parent, NULL) == 0)
		pthread_detach(t);
}

/* --- libxenctrl ------------------------------------------------------------------- */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dlogger, unsigned flags)
{
	(void)logger; (void)dlogger; (void)flags;
	return (xc_interface *)shim_handle_storage;
}

int xc_interface_close(xc_interface *xch)
{
	(void)xch;
	return 0;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
	char p[4096], name[32];
	(void)xch;
	if (max < 1 || first >= DOMID_FIRST_RESERVED)
		return 0;
	snprintf(name, sizeof(name), "dead-%u", first);
	shim_path(p, sizeof(p), name);
	if (access(p, F_OK) == 0)
		return 0;
	memset(info, 0, sizeof(*info));	/* the prefix only: the rest is the caller's */
	info->domid = first;
	info->running = 1;
	return 1;
}

/* --- libxengnttab: the only grant xenstored maps is a domain's ring page ----------- */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned flags)
{
	(void)logger; (void)flags;
	return (xengnttab_handle *)(shim_handle_storage + 16);
}

int xengnttab_close(xengnttab_handle *xgt)
{
	(void)xgt;
	return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr)
{
	(void)xgt; (void)nr;
	return 0;
}

static void *map_ring_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	void *p;
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, PAGE) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
	char p[4096], name[32];
	(void)xgt; (void)prot;
	if (ref != 1) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(name, sizeof(name), "ring-%u", domid);
	shim_path(p, sizeof(p), name);
	return map_ring_file(p);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	(void)xgt;
	return munmap(start_address, (size_t)count * PAGE);
}

/* --- libxenevtchn: one FIFO carries every wake-up ------------------------------------ */

static xenevtchn_handle *evtchn_open_fifo(void)
{
	char p[4096];
	if (evtchn_fd < 0) {
		shim_path(p, sizeof(p), "evtchn");
		if (mkfifo(p, 0600) != 0 && errno != EEXIST)
			return NULL;
		evtchn_fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (evtchn_fd < 0)
			return NULL;
	}
	return (xenevtchn_handle *)(shim_handle_storage + 32);
}

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned flags)
{
	(void)logger; (void)flags;
	return evtchn_open_fifo();
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd, unsigned flags)
{
	(void)logger; (void)fd; (void)flags;
	return evtchn_open_fifo();
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	(void)xce;
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	(void)xce;
	return evtchn_fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce; (void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid, evtchn_port_t remote)
{
	(void)xce; (void)domid; (void)remote;
	return next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	(void)xce; (void)virq;
	return VIRQ_PORT;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce; (void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint32_t port;
	(void)xce;
	if (read(evtchn_fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
		return FIRST_BOUND_PORT - 1;	/* a spurious wake-up: not the VIRQ */
	return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce; (void)port;
	return 0;
}

/* --- /proc/xen/xsd_port and /proc/xen/xsd_kva -------------------------------------- */

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	char p[4096];
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	if (strcmp(path, "/proc/xen/xsd_port") == 0) {
		shim_path(p, sizeof(p), "xsd_port");
		return real_open(p, flags, mode);
	}
	if (strcmp(path, "/proc/xen/xsd_kva") == 0) {
		int fd;
		shim_path(p, sizeof(p), "ring-0");
		fd = real_open(p, flags | O_CREAT, 0600);
		if (fd >= 0 && ftruncate(fd, PAGE) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	return real_open(path, flags, mode);
}
