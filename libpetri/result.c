/* SPDX-License-Identifier: Apache-2.0 */
/*
 * result.c - what an exec's result says: the reason and limit names, and
 * the getters of petri_result (which exec.c fills).  A leaf: it calls
 * nothing of the library, so the audit writer can name reasons and limits
 * without depending on the exec code.
 */
#include "host.h"

PETRI_API const char *petri_reason_name(int reason)
{
	static const char *const names[] = {"exited", "signaled",     "timeout",      "memory",
					    "pids",   "output_limit", "killed",       "seccomp",
					    "cpu",    "file_size",    "sandbox_died", "failed"};
	if (reason < 0 || (size_t)reason >= ARRAY_SIZE(names))
		return "unknown";
	return names[reason];
}

PETRI_API const char *petri_limit_name(uint32_t bit)
{
	switch (bit) {
	case PETRI_LIMIT_MEMORY:
		return "memory";
	case PETRI_LIMIT_PIDS:
		return "pids";
	case PETRI_LIMIT_OUTPUT:
		return "output";
	case PETRI_LIMIT_TIMEOUT:
		return "timeout";
	case PETRI_LIMIT_CPU:
		return "cpu";
	case PETRI_LIMIT_FILE_SIZE:
		return "file_size";
	default:
		return NULL;
	}
}

PETRI_API void petri_result_free(petri_result *res)
{
	if (!res)
		return;
	free(res->out[0]);
	free(res->out[1]);
	free(res);
}

PETRI_API int petri_result_reason(const petri_result *res)
{
	return res ? res->reason : -1;
}

PETRI_API int petri_result_exit_code(const petri_result *res)
{
	return res ? res->exit_code : -1;
}

PETRI_API int petri_result_signal(const petri_result *res)
{
	return res ? res->signal : 0;
}

PETRI_API uint32_t petri_result_limits_hit(const petri_result *res)
{
	return res ? res->limits_hit : 0;
}

PETRI_API uint64_t petri_result_wall_ns(const petri_result *res)
{
	return res ? res->wall_ns : 0;
}

PETRI_API uint64_t petri_result_cpu_ns(const petri_result *res)
{
	return res ? res->cpu_ns : 0;
}

PETRI_API uint64_t petri_result_peak_memory_bytes(const petri_result *res)
{
	return res ? res->peak_memory : 0;
}

static const char *result_out(const petri_result *res, int idx, size_t *len)
{
	if (len)
		*len = res ? res->out_len[idx] : 0;
	if (!res || !res->out[idx])
		return "";
	return res->out[idx];
}

PETRI_API const char *petri_result_stdout(const petri_result *res, size_t *len)
{
	return result_out(res, 0, len);
}

PETRI_API const char *petri_result_stderr(const petri_result *res, size_t *len)
{
	return result_out(res, 1, len);
}

PETRI_API int petri_result_stdout_truncated(const petri_result *res)
{
	return res ? res->truncated[0] : 0;
}

PETRI_API int petri_result_stderr_truncated(const petri_result *res)
{
	return res ? res->truncated[1] : 0;
}

PETRI_API uint64_t petri_result_stdout_total(const petri_result *res)
{
	return res ? res->out_total[0] : 0;
}

PETRI_API uint64_t petri_result_seccomp_denials(const petri_result *res)
{
	return res ? res->seccomp_denials : 0;
}

PETRI_API uint64_t petri_result_stderr_total(const petri_result *res)
{
	return res ? res->out_total[1] : 0;
}
