/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The names of the built-in data classes, in the scanner's order (a class's id is its index).
 * One list for both sides: the scanner's data_builtin_classes (data_classes.c) and the policy
 * document's policy_data_classes (policy.c), which every process that validates a policy
 * needs without linking the scanner. Names only: no code, nothing to link.
 */
#ifndef CORDON_POLICY_DATA_DATA_NAMES_H
#define CORDON_POLICY_DATA_DATA_NAMES_H

#define DATA_BUILTIN_NAMES                                                                         \
    "pii.email", "pii.phone", "pii.credit_card", "pii.ssn", "pii.iban", "pii.ip",                  \
        "secret.aws_access_key", "secret.aws_secret_key", "secret.github_token",                   \
        "secret.openai_key", "secret.anthropic_key", "secret.slack_token",                         \
        "secret.google_api_key", "secret.stripe_key", "secret.jwt", "secret.private_key",          \
        "secret.ssh_private_key", "secret.database_url", "secret.generic", "health", "financial"

#endif
