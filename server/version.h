/* version: the one place apikeyd's version string lives. */
#ifndef APIKEYD_VERSION_H
#define APIKEYD_VERSION_H
#define APIKEYD_VERSION "0.1.0"
#endif
