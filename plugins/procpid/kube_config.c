/*
 * The kube_* keys of [plugin.procpid] (see kube_config.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube_config.h"

#define DEFAULT_TIMEOUT 10000u  /* ms */
#define DEFAULT_RESYNC  600000u /* ms */

int kube_config_read(const cobs_plugin_env *env, const char *who, kube_config *c, cobs_error *err)
{
	const cobs_section *s = env->config;
	const char *mode;
	*c = (kube_config){0};
	if (cobs_cfg_string(s, "kube_api", "auto", &mode, err) < 0 ||
	    cobs_cfg_string(s, "kube_api_url", "", &c->url, err) < 0 ||
	    cobs_cfg_string(s, "kube_token_file", KUBE_DEFAULT_TOKEN, &c->token, err) < 0 ||
	    cobs_cfg_string(s, "kube_ca_file", KUBE_DEFAULT_CA, &c->ca, err) < 0 ||
	    cobs_cfg_duration_ms(s, "kube_timeout", DEFAULT_TIMEOUT, &c->timeout_ms, err) < 0 ||
	    cobs_cfg_duration_ms(s, "kube_resync", DEFAULT_RESYNC, &c->resync_ms, err) < 0)
		return -1;
	if (strcmp(mode, "auto") && strcmp(mode, "on") && strcmp(mode, "off"))
		return cobs_cfg_error(s, "kube_api", err,
		                      "invalid value '%s' (expected auto, on or off)", mode);
	const char *url = c->url;
	if (*url && strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return cobs_cfg_error(s, "kube_api_url", err,
		                      "invalid value '%s' (expected an http:// or https:// URL)",
		                      url);
	if (strpbrk(url, " \t\r\n?#"))
		return cobs_cfg_error(s, "kube_api_url", err,
		                      "invalid value '%s' (no spaces, query or fragment)", url);
	if (c->timeout_ms < 100 || c->timeout_ms > 3600000)
		return cobs_cfg_error(s, "kube_timeout", err,
		                      "invalid value '%s' (expected 100ms to 1h)",
		                      cobs_cfg_raw(s, "kube_timeout"));
	if (c->resync_ms && (c->resync_ms < 1000 || c->resync_ms > 7 * 24 * 3600000ull))
		return cobs_cfg_error(s, "kube_resync", err,
		                      "invalid value '%s' (expected 0 for never, or 1s to 7d)",
		                      cobs_cfg_raw(s, "kube_resync"));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	c->host = host && *host ? host : NULL;
	c->enabled = strcmp(mode, "off") && (*url || c->host);
	if (!c->enabled && !strcmp(mode, "on"))
		cobs_log(COBS_LOG_WARN, who,
		         "kube_api = on, but neither kube_api_url nor KUBERNETES_SERVICE_HOST is "
		         "set: no pod names");
	return 0;
}
