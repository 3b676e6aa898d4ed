/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#define __CDVIZ_H_INSIDE__

#include "cdviz-version.h"
#include "cdviz-enum-types.h"
#include "cdviz-message.h"
#include "cdviz-source.h"
#include "cdviz-transformer.h"
#include "cdviz-sink.h"
#include "cdviz-registry.h"
#include "cdviz-plugin.h"
#include "cdviz-config.h"
#include "cdviz-http-server.h"
#include "cdviz-metrics.h"
#include "cdviz-header-validator.h"
#include "cdviz-state.h"
#include "cdviz-pipeline.h"
#include "cdviz-cdevent.h"
#include "cdviz-sse-client.h"

#undef __CDVIZ_H_INSIDE__
