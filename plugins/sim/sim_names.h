/*
 * Names for simulated pods, containers and processes: Kubernetes-shaped pod
 * names and UIDs, container IDs, images and cgroup paths, and process comms
 * and command lines, a few of them hostile on purpose (markup, a ") (" that
 * breaks naive /proc/PID/stat parsing, quotes and backslashes) so every page
 * and exposition that shows them is tested for escaping.
 */
#ifndef COBS_SIM_NAMES_H
#define COBS_SIM_NAMES_H

#include <stddef.h>

#include "sim_model.h"

/* The hostile comms every node runs as host processes. */
#define SIM_HOSTILE 3
extern const char *const sim_hostile_comms[SIM_HOSTILE];

/* Host processes every node runs (systemd first: it is PID 1). */
#define SIM_SYSTEM 8
extern const char *const sim_system_comms[SIM_SYSTEM];

/* A pod of a random app in a random namespace; its containers get the app's name first. */
void sim_name_pod(sim_rng *r, sim_pod *pod, const char **app);
/* The c-th container of pod (0: the app itself, then sidecars). */
void sim_name_container(sim_rng *r, const sim_pod *pod, const char *app, unsigned c,
                        sim_container *k);
/* A process of container k (NULL: a host process with comm taken from the pools). */
void sim_name_process(sim_rng *r, const sim_container *k, sim_process *p);
/* A host process running comm (system and hostile ones). */
void sim_name_host_process(sim_process *p, const char *comm);

#endif
