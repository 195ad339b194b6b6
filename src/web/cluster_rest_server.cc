#include "web/cluster_rest_server.h"

#include <httplib.h>

#include <map>

#include "common/log.h"
#include "web/rest_control.h"
#include "web/rest_json.h"
#include "web/rest_server.h"

namespace weir::web {
namespace {

// The cluster dashboard: one page, no build step, polling /cluster every second.
constexpr const char* kClusterPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>weir cluster</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
th{background:#f2f2f2}.muted{color:#888}#error{color:#b00}
</style></head><body>
<h1>weir cluster <span id="job"></span></h1>
<p id="summary" class="muted">loading…</p><p id="error"></p>
<h2>Workers</h2>
<table><thead><tr><th>worker</th><th>role</th><th>assigned shards</th></tr></thead>
<tbody id="workers"></tbody></table>
<h2>Shards</h2>
<table><thead><tr><th>shard</th><th>owner</th><th>assigned to</th><th>standbys</th><th>epoch</th><th>state</th>
<th>latest checkpoint</th></tr></thead><tbody id="shards"></tbody></table>
<h2>Shards on this worker</h2>
<table><thead><tr><th>shard</th><th>epoch</th><th>job</th><th>records in</th>
<th>records out</th><th>checkpoints</th><th>latest checkpoint</th></tr></thead>
<tbody id="local"></tbody></table>
<script>
function cell(row, text, cls){const td=document.createElement('td');td.textContent=text;
  if(cls)td.className=cls;row.appendChild(td);}
async function refresh(){
  try{
    const r=await fetch('/cluster');const v=await r.json();
    if(!r.ok)throw new Error((v.errors||[r.statusText]).join('; '));
    document.getElementById('error').textContent='';
    document.getElementById('job').textContent=v.job;
    document.getElementById('summary').textContent=v.shards+' shards, '+v.workers.length+
      ' workers, checkpoints under '+v['checkpoint-root']+' (served by '+v['served-by']+')';
    const w=document.getElementById('workers');w.replaceChildren();
    for(const m of v.workers){const tr=document.createElement('tr');cell(tr,m.id);
      cell(tr,m.leader?'leader':'');cell(tr,m.shards.join(', '));w.appendChild(tr);}
    const s=document.getElementById('shards');s.replaceChildren();
    for(const x of v['shard-states']){const tr=document.createElement('tr');cell(tr,x.shard);
      cell(tr,x.owner??'(free)',x.owner?'':'muted');cell(tr,x['assigned-to']??'');
      cell(tr,(x.standbys||[]).join(', '));
      cell(tr,x.epoch);cell(tr,x.finished?'finished':(x.owner?'running':'waiting'));
      const c=x['latest-checkpoint'];cell(tr,c?('#'+c.id+' '+c.path):'none',c?'':'muted');
      s.appendChild(tr);}
  }catch(e){document.getElementById('error').textContent='cannot read the cluster: '+e.message;}
  try{
    const r=await fetch('/shards');const v=await r.json();
    const l=document.getElementById('local');l.replaceChildren();
    for(const x of v.shards){const tr=document.createElement('tr');const vs=x.job.vertices;
      cell(tr,x.shard);cell(tr,x.epoch);
      cell(tr,x.job.state+(x['handing-off']?' (handing off)':''));
      cell(tr,vs.length?vs[0].metrics['write-records']:0);
      cell(tr,vs.length?vs[vs.length-1].metrics['read-records']:0);
      const c=x.checkpoints;cell(tr,c.counts.completed+' completed, '+c.counts.failed+' failed');
      const k=c.latest.completed;cell(tr,k?('#'+k.id+', '+k.end_to_end_duration+' ms, '+
        k.checkpointed_size+' of '+k.state_size+' bytes'):'none',k?'':'muted');
      l.appendChild(tr);}
  }catch(e){}
}
refresh();setInterval(refresh,1000);
</script></body></html>
)html";

}  // namespace

nlohmann::json ClusterViewJson(const std::string& job, const cluster::ClusterView& view) {
  std::map<std::string, std::vector<int>> assigned;
  for (const auto& [shard, member] : view.assignment) assigned[member].push_back(shard);
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& m : view.members) {
    workers.push_back({{"id", m},
                       {"leader", view.leader == m},
                       {"shards", assigned.count(m) ? assigned[m] : std::vector<int>{}}});
  }
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : view.shards_state) {
    nlohmann::json checkpoint = nullptr;
    if (s.checkpoint) {
      checkpoint = {
          {"id", s.checkpoint->id}, {"epoch", s.checkpoint->epoch}, {"path", s.checkpoint->path}};
    }
    const auto to = view.assignment.find(s.shard);
    const auto standbys = view.standbys.find(s.shard);
    shards.push_back({{"shard", s.shard},
                      {"owner", s.owner ? nlohmann::json(*s.owner) : nlohmann::json(nullptr)},
                      {"assigned-to", to != view.assignment.end() ? nlohmann::json(to->second)
                                                                  : nlohmann::json(nullptr)},
                      {"standbys", standbys != view.standbys.end() ? standbys->second
                                                                   : std::vector<std::string>{}},
                      {"epoch", s.epoch},
                      {"finished", s.finished},
                      {"latest-checkpoint", checkpoint}});
  }
  return {{"job", job},
          {"shards", view.shards},
          {"checkpoint-root", view.checkpoint_root},
          {"leader", view.leader ? nlohmann::json(*view.leader) : nlohmann::json(nullptr)},
          {"workers", workers},
          {"shard-states", shards}};
}

ClusterRestServer::ClusterRestServer(cluster::EtcdClient& etcd, std::string job, std::string member,
                                     LocalShards local_shards, LocalShards standby_copies)
    : etcd_(etcd),
      job_(std::move(job)),
      member_(std::move(member)),
      local_shards_(std::move(local_shards)),
      standby_copies_(std::move(standby_copies)),
      server_(std::make_unique<httplib::Server>()) {
  ConfigureHttpServer(*server_, &listen_socket_);
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kClusterPage, "text/html; charset=utf-8");
  });
  server_->Get("/cluster", [this](const httplib::Request&, httplib::Response& res) {
    auto view = cluster::ReadClusterView(etcd_, job_);
    if (!view.ok()) {
      // etcd unreachable: 503, the worker itself is fine and answers again once etcd is back.
      const int status = view.status().code() == StatusCode::kNotFound ? 404 : 503;
      SendJson(res, ErrorJson(view.status().message()), status);
      return;
    }
    nlohmann::json body = ClusterViewJson(job_, *view);
    body["served-by"] = member_;
    SendJson(res, body);
  });
  server_->Get("/shards", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res,
             {{"worker", member_},
              {"shards", local_shards_ ? local_shards_() : nlohmann::json::array()},
              {"standby-copies", standby_copies_ ? standby_copies_() : nlohmann::json::array()}});
  });
  for (const char* path : {"/", "/cluster", "/shards"}) {
    const auto refuse = [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", "GET");
      SendJson(
          res,
          ErrorJson("method " + req.method + " is not allowed on " + req.path + " (allowed: GET)"),
          405);
    };
    server_->Post(path, refuse);
    server_->Put(path, refuse);
    server_->Patch(path, refuse);
    server_->Delete(path, refuse);
  }
}

ClusterRestServer::~ClusterRestServer() { Stop(); }

Status ClusterRestServer::Start(const std::string& address, int port) {
  if (!IsLoopbackAddress(address)) {
    LogWarn("cluster REST view bound to " + address +
            ": reachable from other machines (read-only)");
  }
  return ServeHttp(*server_, listen_socket_, address, port, &port_, &thread_);
}

void ClusterRestServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace weir::web
