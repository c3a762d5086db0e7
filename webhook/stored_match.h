#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace agentbudget::webhook {

// Where `stored`, a part of an object as the API server hands it to validation, departs from
// `built`, the same part as the webhook builds it (the meter container, a meter volume);
// "" when they match. They match when every member of `built` has the same value in
// `stored` (objects member by member, arrays element by element, in order) and `stored`
// adds only members the API server fills in by default, which change nothing the meter
// relies on: terminationMessagePath, terminationMessagePolicy, protocol, timeoutSeconds,
// successThreshold, scheme, apiVersion (of a fieldRef), defaultMode, a port's hostPort equal
// to its containerPort (defaulted on hostNetwork pods); and in a volumeMounts list, the
// mount of the pod's own service-account token (named kube-api-access-*, at
// /var/run/secrets/kubernetes.io/serviceaccount), which the ServiceAccount admission plugin
// adds to every container after the webhook's mutation. A `resources` member is not
// compared: the API server rewrites quantities into canonical form ("0.5" becomes "500m"),
// and the meter's requests and limits guard nothing. The answer names the path:
// `env[3].value is "x", agentbudget sets "y"`.
std::string StoredDifference(const nlohmann::json& stored, const nlohmann::json& built);

}  // namespace agentbudget::webhook
