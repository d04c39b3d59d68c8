/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a process can still learn of planted variables: envprobe [--proc FILE] EXPECT reads
 * NAME=VALUE lines from the file EXPECT (so that no value rides on a command line, which the
 * audit log records) and prints, for each, whether getenv(NAME) answers and whether VALUE
 * appears anywhere in FILE (default /proc/self/environ, the kernel's copy of the environment
 * as exec placed it), one line per variable:
 *   NAME getenv=absent|present environ=absent|present
 * Built twice by integration.env: with -static, so that no shim runs in it and it reads the
 * file with plain system calls, and dynamically, so that the shim's constructor runs in the
 * very process whose /proc/self/environ it reads.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *file = "/proc/self/environ";
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--proc") == 0) {
        file = argv[2];
        i = 3;
    }
    static char buf[1 << 20];
    size_t n = 0;
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        perror(file);
        return 2;
    }
    ssize_t r;
    while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (i != argc - 1)
        return 2;
    FILE *ex = fopen(argv[i], "r");
    if (!ex) {
        perror(argv[i]);
        return 2;
    }
    char line[4096];
    while (fgets(line, sizeof line, ex)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || eq == line || !eq[1])
            continue;
        *eq = '\0';
        const char *value = eq + 1;
        int in_file = memmem(buf, n, value, strlen(value)) != NULL;
        printf("%s getenv=%s environ=%s\n", line, getenv(line) ? "present" : "absent",
               in_file ? "present" : "absent");
    }
    fclose(ex);
    return 0;
}
