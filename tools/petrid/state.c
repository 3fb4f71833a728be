/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.c - petrid's bottom layer: the process-wide state (pd), the log,
 * the clocks, references to the current config and the tenants' runtime
 * state.  Every other file of petrid may call it; it calls nothing of
 * petrid above config.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "petrid.h"

struct petrid pd = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void pd_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	memcpy(line, "petrid: ", 8);
	va_start(ap, fmt);
	int n = vsnprintf(line + 8, sizeof(line) - 9, fmt, ap);
	va_end(ap);
	if (n < 0)
		line[8] = '\0';
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	size_t len = strlen(line);
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

int64_t pd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pd_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pd_iso_time(int64_t ms, char *buf)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

struct pd_config *pd_config_get(void)
{
	pthread_mutex_lock(&pd.lock);
	struct pd_config *c = pd.cfg;
	c->refs++;
	pthread_mutex_unlock(&pd.lock);
	return c;
}

void pd_config_put(struct pd_config *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&pd.lock);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&pd.lock);
	if (last)
		pd_config_free(c);
}

struct pd_tenant_rt *pd_tenant_rt(const char *name)
{
	for (struct pd_tenant_rt *t = pd.tenants; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	struct pd_tenant_rt *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->next = pd.tenants;
	pd.tenants = t;
	return t;
}
