/* SPDX-License-Identifier: MIT */
/*
 * Every route's handler, each defined in the file of its room (h2o thread).
 */
#ifndef COBS_SERVER_ROUTES_H
#define COBS_SERVER_ROUTES_H

#include "router.h"

/* health.c */
int cobs_route_healthz(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_readyz(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
/* metrics_http.c */
int cobs_route_metrics(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_metrics_server(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
/* ingest.c */
int cobs_route_ingest(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
/* api_commands.c */
int cobs_route_command_stream(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_command_create(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_command_get(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_command_result(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
/* api_nodes.c, api_pods.c, api_process.c, api_series.c: the JSON API (docs/api.md) */
int cobs_route_api_nodes(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_api_node(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_api_pods(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_api_pod(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_api_process(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);
int cobs_route_api_series(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a);

#endif
