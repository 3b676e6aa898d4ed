# SPDX-License-Identifier: Apache-2.0
#
# transformers-community's github_events (transformer.vrl), its workflow_run
# and workflow_job branches written in jq: the jq side of the transformer
# benchmark (tests/bench/transform-bench.py). On the captured workflow_run and
# workflow_job inputs it gives upstream's expected outputs (the benchmark
# checks it). GitHub's timestamps end in "Z"; VRL's format_timestamp "%+"
# writes "+00:00".
def ts: if type == "string" then sub("Z$"; "+00:00") else (now | todate | sub("Z$"; "+00:00")) end;

.metadata as $m
| .headers as $h
| .body as $b
| ($b.repository.full_name
   | if type == "string" then . else error("repository.full_name is not a string") end) as $repo
| {github: {repository: {url: $b.repository.url}, sender: {login: $b.sender.login}}} as $custom
| if $b | has("workflow_run") then
    $b.workflow_run as $r
    | {context: {version: "0.4.1", id: "0", source: $m.context.source, timestamp: ($r.updated_at | ts)},
       subject: {id: "\($r.url)/attempts/\($r.run_attempt)", type: "pipelineRun",
                 content: {pipelineName: "\($repo)/\($r.name)",
                           url: "\($r.html_url)/attempts/\($r.run_attempt)"}},
       customData: $custom}
    | if $b.action == "requested" then .context.type = "dev.cdevents.pipelinerun.queued.0.2.0"
      elif $b.action == "in_progress" then .context.type = "dev.cdevents.pipelinerun.started.0.2.0"
      elif $b.action == "completed" then
        .context.type = "dev.cdevents.pipelinerun.finished.0.2.0"
        | .subject.content.outcome = $r.conclusion
      else empty end
  elif $b | has("workflow_job") then
    $b.workflow_job as $j
    | {context: {version: "0.4.1", id: "0", source: $m.context.source},
       subject: {id: $j.url, type: "taskRun",
                 content: {taskName: (if ($j.workflow_name | type) == "string" and ($j.name | type) == "string"
                                      then "\($repo)/\($j.workflow_name)/\($j.name)" else $j.name end),
                           url: $j.html_url,
                           pipelineRun: {id: "\($j.run_url)/attempts/\($j.run_attempt)"}}},
       customData: $custom}
    | if $b.action == "in_progress" then
        .context.timestamp = ($j.started_at | ts)
        | .context.type = "dev.cdevents.taskrun.started.0.2.0"
      elif $b.action == "completed" then
        .context.timestamp = ($j.completed_at | ts)
        | .context.type = "dev.cdevents.taskrun.finished.0.2.0"
        | .subject.content.outcome = $j.conclusion
      else empty end
  else empty end
| {metadata: $m, headers: $h, body: .}
