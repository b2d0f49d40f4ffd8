/* SPDX-License-Identifier: MIT */
#include "jail/seccomp_policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "jail/seccomp_constants.h"

/* A cursor over one line of policy text. */
struct line_cursor {
	const char *p, *end;
	const struct seccomp_policy *policy;
	const char *source;
	unsigned int line;
	char *err;
	size_t errlen;
	bool saw_runtime;	/* the value being parsed names an '@' value */
};

static int fail(struct line_cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct line_cursor *c, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s", c->source, c->line, reason);
	return -EINVAL;
}

static void skip_space(struct line_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool at_end(struct line_cursor *c)
{
	skip_space(c);
	return c->p == c->end;
}

/* Consumes tok if it comes next. */
static bool accept(struct line_cursor *c, const char *tok)
{
	size_t n = strlen(tok);

	skip_space(c);
	if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, tok, n)) {
		c->p += n;
		return true;
	}
	return false;
}

/* An identifier [A-Za-z_][A-Za-z0-9_]*; its length, 0 if none. */
static size_t ident(struct line_cursor *c, const char **start)
{
	const char *s;

	skip_space(c);
	s = c->p;
	if (s == c->end || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_'))
		c->p++;
	*start = s;
	return (size_t)(c->p - s);
}

/* '@name': a value the process supplies at run time (0 for the build-time lint, which has none). */
static int runtime_value(struct line_cursor *c, const char *name, size_t n, uint64_t *out)
{
	const struct seccomp_policy *p = c->policy;

	*out = 0;
	if (!p->runtime)
		return 0;
	for (size_t i = 0; i < p->nruntime; i++) {
		if (strlen(p->runtime[i].name) == n && !memcmp(p->runtime[i].name, name, n)) {
			*out = p->runtime[i].value;
			return 0;
		}
	}
	return fail(c, "no runtime value for '@%.*s'", (int)n, name);
}

static int parse_term(struct line_cursor *c, uint64_t *out)
{
	const char *s;
	size_t n;

	skip_space(c);
	if (c->p < c->end && isdigit((unsigned char)*c->p)) {
		char buf[32];
		char *endp;

		n = 0;
		while (c->p + n < c->end && isalnum((unsigned char)c->p[n]) && n < sizeof(buf) - 1)
			n++;
		memcpy(buf, c->p, n);
		buf[n] = '\0';
		errno = 0;
		*out = strtoull(buf, &endp, 0);
		if (errno || *endp)
			return fail(c, "'%s' is not a number", buf);
		c->p += n;
		return 0;
	}
	if (c->p < c->end && *c->p == '@') {
		c->p++;
		n = ident(c, &s);
		if (!n)
			return fail(c, "expected a name after '@'");
		c->saw_runtime = true;
		return runtime_value(c, s, n, out);
	}
	n = ident(c, &s);
	if (!n)
		return fail(c, "expected a number or a constant");
	if (!seccomp_constant_lookup(s, n, out))
		return fail(c, "unknown constant '%.*s'", (int)n, s);
	return 0;
}

/* value := term ('|' term)* */
static int parse_value(struct line_cursor *c, uint64_t *out)
{
	uint64_t v;
	int r = parse_term(c, out);

	while (!r) {
		const char *save = c->p;

		/* '|' but not '||', which the grammar does not have. */
		if (!accept(c, "|"))
			break;
		if (c->p < c->end && *c->p == '|') {
			c->p = save;
			return fail(c, "'||' is not supported: write one line per alternative");
		}
		r = parse_term(c, &v);
		*out |= v;
	}
	return r;
}

/* cond := 'arg'N op value | 'arg'N '&' value '==' value */
static int parse_cond(struct line_cursor *c, struct seccomp_cond *cond)
{
	static const struct { const char *tok; enum seccomp_cond_op op; } ops[] = {
		{ "==", SECCOMP_OP_EQ }, { "!=", SECCOMP_OP_NE }, { "<=", SECCOMP_OP_LE },
		{ ">=", SECCOMP_OP_GE }, { "<", SECCOMP_OP_LT }, { ">", SECCOMP_OP_GT },
	};
	const char *s;
	size_t n = ident(c, &s);
	int r;

	if (n != 4 || memcmp(s, "arg", 3) || s[3] < '0' || s[3] > '5')
		return fail(c, "expected arg0 .. arg5");
	cond->arg = (unsigned int)(s[3] - '0');
	skip_space(c);
	if (c->p < c->end && *c->p == '&' && (c->p + 1 == c->end || c->p[1] != '&')) {
		c->p++;
		cond->op = SECCOMP_OP_MASKED_EQ;
		r = parse_value(c, &cond->mask);
		if (r)
			return r;
		if (!accept(c, "=="))
			return fail(c, "a mask must be compared with '=='");
		r = parse_value(c, &cond->value);
		if (!r && (cond->value & ~cond->mask))
			return fail(c, "the value has bits outside the mask: the rule can never match");
		return r;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (accept(c, ops[i].tok)) {
			cond->op = ops[i].op;
			c->saw_runtime = false;
			r = parse_value(c, &cond->value);
			cond->runtime = c->saw_runtime;
			return r;
		}
	}
	return fail(c, "expected an operator (==, !=, <, <=, >, >=, &)");
}

static int parse_line(struct line_cursor *c, struct seccomp_policy *p)
{
	struct seccomp_rule *rule;
	const char *s;
	size_t n;
	int nr, r;

	if (at_end(c))
		return 0;
	n = ident(c, &s);
	if (!n)
		return fail(c, "expected a syscall name");
	if (n >= SECCOMP_POLICY_NAME_MAX)
		return fail(c, "syscall name too long");
	if (p->nrules == SECCOMP_POLICY_MAX_RULES)
		return fail(c, "more than %d rules", SECCOMP_POLICY_MAX_RULES);
	rule = &p->rules[p->nrules];
	memset(rule, 0, sizeof(*rule));
	memcpy(rule->name, s, n);
	nr = seccomp_syscall_resolve_name(rule->name);
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return fail(c, "unknown syscall '%s'", rule->name);
	rule->nr = nr;
	rule->line = c->line;
	if (accept(c, ":")) {
		do {
			if (rule->nconds == SECCOMP_POLICY_MAX_CONDS)
				return fail(c, "more than %d conditions", SECCOMP_POLICY_MAX_CONDS);
			r = parse_cond(c, &rule->conds[rule->nconds]);
			if (r)
				return r;
			rule->nconds++;
		} while (accept(c, "&&"));
		if (rule->nconds == 0)
			return fail(c, "':' without a condition");
	}
	if (!at_end(c))
		return fail(c, "unexpected '%.*s'", (int)(c->end - c->p), c->p);
	p->nrules++;
	return 0;
}

int seccomp_policy_parse(const char *text, size_t len, const char *source,
			 struct seccomp_policy *p, char *err, size_t errlen)
{
	return seccomp_policy_parse_runtime(text, len, source, NULL, 0, p, err, errlen);
}

int seccomp_policy_parse_runtime(const char *text, size_t len, const char *source,
				 const struct seccomp_runtime_value *runtime, size_t nruntime,
				 struct seccomp_policy *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->source, sizeof(p->source), "%s", source);
	p->runtime = runtime;
	p->nruntime = nruntime;
	return seccomp_policy_append(text, len, source, p, err, errlen);
}

int seccomp_policy_append(const char *text, size_t len, const char *source,
			  struct seccomp_policy *p, char *err, size_t errlen)
{
	struct line_cursor c = { .policy = p, .source = source, .err = err, .errlen = errlen };
	const char *end = text + len;

	err[0] = '\0';
	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		const char *eol = nl ? nl : end;
		const char *hash = memchr(text, '#', (size_t)(eol - text));
		int r;

		c.line++;
		if (eol - text > SECCOMP_POLICY_MAX_LINE)
			return fail(&c, "line longer than %d bytes", SECCOMP_POLICY_MAX_LINE);
		if (memchr(text, '\0', (size_t)(eol - text)))
			return fail(&c, "NUL byte");
		c.p = text;
		c.end = hash ? hash : eol;
		r = parse_line(&c, p);
		if (r)
			return r;
		text = nl ? nl + 1 : end;
	}
	if (p->nrules == 0) {
		c.line = 0;
		return fail(&c, "no rules: the process could not even exit");
	}
	return 0;
}

/* Syscalls whose arguments decide whether they are harmless; allowed only with a filter. */
static const char *const needs_filter[] = {
	"ioctl", "mmap", "mprotect", "pkey_mprotect", "clone", "socket", "socketpair",
	"prctl", "fcntl", "personality", "setsockopt", "openat",
};

#define ARG(n) (1u << (n))
/*
 * Syscalls that act on another process, with the arguments that name it
 * (which = PRIO_USER makes setpriority's 'who' a uid): every allowed form must
 * pin each of them to one value ('arg0 == @device_pid'). A filter on the
 * signal alone is no bound: the uid a process keeps reaches every process of
 * that uid, and kill(-1, SIGKILL) as root ends every root process.
 */
static const struct {
	const char *name;
	unsigned int args;	/* ARG(n) for each argument that must be pinned */
} must_target[] = {
	{ "kill", ARG(0) }, { "tkill", ARG(0) }, { "tgkill", ARG(0) },
	{ "rt_sigqueueinfo", ARG(0) }, { "rt_tgsigqueueinfo", ARG(0) },
	{ "pidfd_send_signal", ARG(0) }, { "pidfd_open", ARG(0) }, { "pidfd_getfd", ARG(0) },
	{ "wait4", ARG(0) }, { "waitid", ARG(0) | ARG(1) },
	{ "setpriority", ARG(0) | ARG(1) }, { "ioprio_set", ARG(0) | ARG(1) },
	{ "sched_setaffinity", ARG(0) }, { "sched_setscheduler", ARG(0) },
	{ "sched_setparam", ARG(0) }, { "sched_setattr", ARG(0) }, { "prlimit64", ARG(0) },
	{ "process_madvise", ARG(0) }, { "migrate_pages", ARG(0) }, { "move_pages", ARG(0) },
	{ "kcmp", ARG(0) | ARG(1) },
};

/*
 * Syscalls whose every allowed form must mask bits of one argument and
 * require them clear: memory is never executable, and a file is never
 * created, truncated, appended to or made anonymous (O_TMPFILE) through an
 * open, whatever path a filter-blind caller names.
 */
static const struct {
	const char *name;
	unsigned int arg;
	uint64_t bits;
	const char *cond;	/* for the message */
} must_clear[] = {
	{ "mmap", 2, PROT_EXEC, "arg2 & PROT_EXEC == 0" },
	{ "mprotect", 2, PROT_EXEC, "arg2 & PROT_EXEC == 0" },
	{ "pkey_mprotect", 2, PROT_EXEC, "arg2 & PROT_EXEC == 0" },
	{ "openat", 2, O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY),
	  "arg2 & O_CREAT|O_TRUNC|O_APPEND|__O_TMPFILE == 0" },
};
/* Syscalls that can never be allowed: their arguments are out of a filter's reach or they escape it. */
static const char *const never[] = {
	"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register", "seccomp", "bpf",
	"ptrace", "process_vm_writev", "process_vm_readv", "execve", "execveat",
	/* open and creat take no dirfd to filter on and glibc calls openat; openat2's flags are in memory */
	"open", "creat", "openat2", "open_by_handle_at",
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"init_module", "finit_module", "kexec_load", "kexec_file_load", "userfaultfd",
	"perf_event_open", "keyctl", "add_key", "request_key",
};

static bool name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(name, list[i]))
			return true;
	}
	return false;
}

/* Whether one of the rule's conditions masks arg with every bit of bits and wants them clear. */
static bool clears_bits(const struct seccomp_rule *r, unsigned int arg, uint64_t bits)
{
	for (unsigned int k = 0; k < r->nconds; k++) {
		const struct seccomp_cond *cd = &r->conds[k];

		if (cd->arg == arg && cd->op == SECCOMP_OP_MASKED_EQ && (cd->mask & bits) == bits &&
		    !(cd->value & bits))
			return true;
	}
	return false;
}

/*
 * kill and wait4 read a pid <= 0 as a group or everyone (-1). A value written
 * in the policy can be checked here; one the process supplies ('@name', 0 at
 * build time) is its to check (vmm/vmm_lockdown.c).
 */
static bool pins_a_group(const struct seccomp_rule *r)
{
	static const char *const by_pid[] = { "kill", "wait4", "rt_sigqueueinfo" };

	if (!name_in(r->name, by_pid, sizeof(by_pid) / sizeof(by_pid[0])))
		return false;
	for (unsigned int k = 0; k < r->nconds; k++) {
		const struct seccomp_cond *cd = &r->conds[k];

		if (cd->arg == 0 && cd->op == SECCOMP_OP_EQ && !cd->runtime && (int32_t)cd->value <= 0)
			return true;
	}
	return false;
}

/* The first argument in args that no '==' condition of the rule pins; -1 if each is pinned. */
static int unpinned_arg(const struct seccomp_rule *r, unsigned int args)
{
	for (unsigned int a = 0; a < 6; a++) {
		bool pinned = false;

		if (!(args & ARG(a)))
			continue;
		for (unsigned int k = 0; k < r->nconds; k++) {
			if (r->conds[k].arg == a && r->conds[k].op == SECCOMP_OP_EQ)
				pinned = true;
		}
		if (!pinned)
			return (int)a;
	}
	return -1;
}

int seccomp_policy_lint(const struct seccomp_policy *p, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct seccomp_rule *r = &p->rules[i];

		if (name_in(r->name, never, sizeof(never) / sizeof(never[0]))) {
			snprintf(err, errlen, "%s:%u: %s must never be allowed", p->source, r->line, r->name);
			return -EPERM;
		}
		if (r->nconds == 0 && name_in(r->name, needs_filter, sizeof(needs_filter) / sizeof(needs_filter[0]))) {
			snprintf(err, errlen, "%s:%u: %s allowed without an argument filter",
				 p->source, r->line, r->name);
			return -EPERM;
		}
		for (size_t k = 0; k < sizeof(must_target) / sizeof(must_target[0]); k++) {
			int a;

			if (strcmp(r->name, must_target[k].name))
				continue;
			a = unpinned_arg(r, must_target[k].args);
			if (a >= 0) {
				snprintf(err, errlen, "%s:%u: %s allowed without 'arg%d == ...': it could act on any process",
					 p->source, r->line, r->name, a);
				return -EPERM;
			}
			if (pins_a_group(r)) {
				snprintf(err, errlen, "%s:%u: %s allowed on a pid <= 0: a group or every process",
					 p->source, r->line, r->name);
				return -EPERM;
			}
		}
		for (size_t k = 0; k < sizeof(must_clear) / sizeof(must_clear[0]); k++) {
			if (!strcmp(r->name, must_clear[k].name) &&
			    !clears_bits(r, must_clear[k].arg, must_clear[k].bits)) {
				snprintf(err, errlen, "%s:%u: %s allowed without '%s'", p->source, r->line,
					 r->name, must_clear[k].cond);
				return -EPERM;
			}
		}
	}
	return 0;
}

int seccomp_policy_lint_forbid(const struct seccomp_policy *p, const char *name, char *err,
			       size_t errlen)
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		if (!strcmp(p->rules[i].name, name)) {
			snprintf(err, errlen, "%s:%u: %s is forbidden in this policy", p->source,
				 p->rules[i].line, name);
			return -EPERM;
		}
	}
	return 0;
}

unsigned int seccomp_policy_count_syscalls(const struct seccomp_policy *p)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < p->nrules; i++) {
		unsigned int j;

		for (j = 0; j < i; j++) {
			if (p->rules[j].nr == p->rules[i].nr)
				break;
		}
		if (j == i)
			n++;
	}
	return n;
}

static bool cond_holds(const struct seccomp_cond *c, uint64_t a)
{
	switch (c->op) {
	case SECCOMP_OP_EQ: return a == c->value;
	case SECCOMP_OP_NE: return a != c->value;
	case SECCOMP_OP_LT: return a < c->value;
	case SECCOMP_OP_LE: return a <= c->value;
	case SECCOMP_OP_GT: return a > c->value;
	case SECCOMP_OP_GE: return a >= c->value;
	case SECCOMP_OP_MASKED_EQ: return (a & c->mask) == c->value;
	}
	return false;
}

bool seccomp_rule_allows(const struct seccomp_rule *r, const uint64_t args[6])
{
	for (unsigned int k = 0; k < r->nconds; k++) {
		if (!cond_holds(&r->conds[k], args[r->conds[k].arg]))
			return false;
	}
	return true;
}

bool seccomp_policy_allows(const struct seccomp_policy *p, int nr, const uint64_t args[6])
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		if (p->rules[i].nr == nr && seccomp_rule_allows(&p->rules[i], args))
			return true;
	}
	return false;
}

static enum scmp_compare scmp_op(enum seccomp_cond_op op)
{
	switch (op) {
	case SECCOMP_OP_EQ: return SCMP_CMP_EQ;
	case SECCOMP_OP_NE: return SCMP_CMP_NE;
	case SECCOMP_OP_LT: return SCMP_CMP_LT;
	case SECCOMP_OP_LE: return SCMP_CMP_LE;
	case SECCOMP_OP_GT: return SCMP_CMP_GT;
	case SECCOMP_OP_GE: return SCMP_CMP_GE;
	case SECCOMP_OP_MASKED_EQ: return SCMP_CMP_MASKED_EQ;
	}
	return SCMP_CMP_EQ;
}

void *seccomp_policy_compile(const struct seccomp_policy *p, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);

	if (!ctx) {
		snprintf(err, errlen, "%s: seccomp_init failed", p->source);
		return NULL;
	}
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct seccomp_rule *r = &p->rules[i];
		struct scmp_arg_cmp cmp[SECCOMP_POLICY_MAX_CONDS];
		int rc;

		for (unsigned int k = 0; k < r->nconds; k++) {
			const struct seccomp_cond *c = &r->conds[k];

			cmp[k] = (struct scmp_arg_cmp){
				.arg = c->arg,
				.op = scmp_op(c->op),
				.datum_a = c->op == SECCOMP_OP_MASKED_EQ ? c->mask : c->value,
				.datum_b = c->op == SECCOMP_OP_MASKED_EQ ? c->value : 0,
			};
		}
		rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r->nr, r->nconds, cmp);
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: libseccomp refused the rule for %s: %s",
				 p->source, r->line, r->name, strerror(-rc));
			seccomp_release(ctx);
			return NULL;
		}
	}
	return ctx;
}

int seccomp_policy_all_threads(void *compiled)
{
	return seccomp_attr_set((scmp_filter_ctx)compiled, SCMP_FLTATR_CTL_TSYNC, 1);
}

/*
 * glibc opens files lazily on first use: the time zone (/etc/localtime, on the
 * first gmtime_r or localtime_r) and the message catalogs (strerror,
 * strsignal, unless the locale is plain C). A filter without openat would
 * kill the process there, long after start, on a path a test may never take
 * (a guest reading its RTC). So each is used once before the filter; glibc
 * keeps the outcome, found or not.
 */
static void warm_lazy_libc_lookups(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[64];

	tzset();
	gmtime_r(&now, &tm);
	localtime_r(&now, &tm);
	snprintf(buf, sizeof(buf), "%s%s", strerror(EINVAL), strsignal(SIGTERM));
}

int seccomp_policy_load(void *compiled)
{
	warm_lazy_libc_lookups();
	return seccomp_load((scmp_filter_ctx)compiled);
}

void seccomp_policy_release(void *compiled)
{
	if (compiled)
		seccomp_release((scmp_filter_ctx)compiled);
}
