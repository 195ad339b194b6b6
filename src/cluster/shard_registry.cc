#include "cluster/shard_registry.h"

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

namespace weir::cluster {
namespace {

using json = nlohmann::json;

Result<int64_t> ParseEpoch(const std::string& key, const std::string& value) {
  int64_t epoch = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), epoch);
  if (error != std::errc() || end != value.data() + value.size() || epoch <= 0) {
    return Status::Corruption("etcd key " + key + ": '" + value.substr(0, 40) +
                              "' is not a positive epoch");
  }
  return epoch;
}

}  // namespace

bool ValidJobName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

Result<ShardRegistry> ShardRegistry::Create(EtcdClient& etcd, const std::string& job,
                                            std::string checkpoint_root) {
  if (!ValidJobName(job)) {
    return Status::InvalidArgument("job name '" + job.substr(0, 100) +
                                   "': use 1 to 100 letters, digits, '.', '_' or '-'");
  }
  while (checkpoint_root.size() > 1 && checkpoint_root.back() == '/') checkpoint_root.pop_back();
  if (checkpoint_root.empty()) {
    return Status::InvalidArgument("job " + job + ": shards need a checkpoint directory");
  }
  return ShardRegistry(etcd, "/weir/" + job + "/shards/", std::move(checkpoint_root));
}

std::string ShardRegistry::ShardPrefix(int shard) const {
  return prefix_ + std::to_string(shard) + "/";
}

std::string ShardRegistry::ShardDir(int shard) const {
  return checkpoint_root_ + "/" + std::to_string(shard);
}

Result<std::optional<ShardCheckpoint>> ShardRegistry::DecodeCheckpoint(
    int shard, const std::string& key, const std::string& value) const {
  const json j = json::parse(value, nullptr, false);
  ShardCheckpoint c;
  bool ok = j.is_object() && j.contains("epoch") && j["epoch"].is_number_integer() &&
            j.contains("id") && j["id"].is_number_unsigned() && j.contains("path") &&
            j["path"].is_string();
  if (ok) {
    c.epoch = j["epoch"].get<int64_t>();
    c.id = j["id"].get<uint64_t>();
    c.path = j["path"].get<std::string>();
    ok = c.epoch > 0 && c.id > 0;
  }
  if (!ok) {
    return Status::Corruption("etcd key " + key + ": '" + value.substr(0, 200) +
                              "' is not {\"epoch\", \"id\", \"path\"} of a checkpoint");
  }
  // The path becomes a restore path: it must be a checkpoint inside this shard's directory.
  const std::string dir = ShardDir(shard) + "/";
  const bool inside = c.path.starts_with(dir) && c.path.find("/../") == std::string::npos &&
                      c.path.find("/./") == std::string::npos && !c.path.ends_with("/..") &&
                      c.path.find('\0') == std::string::npos;
  if (!inside) {
    return Status::Corruption("etcd key " + key + ": checkpoint path '" + c.path.substr(0, 200) +
                              "' is not inside the shard's directory " + dir);
  }
  return std::optional<ShardCheckpoint>(std::move(c));
}

Result<ShardState> ShardRegistry::Get(int shard) {
  ShardState state;
  state.shard = shard;
  const std::string p = ShardPrefix(shard);
  WEIR_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, etcd_->GetPrefix(p));
  for (const KeyValue& kv : kvs) {
    const std::string name = kv.key.substr(p.size());
    if (name == "owner") {
      state.owner = kv.value;
    } else if (name == "epoch") {
      WEIR_ASSIGN_OR_RETURN(state.epoch, ParseEpoch(kv.key, kv.value));
    } else if (name == "finished") {
      WEIR_RETURN_IF_ERROR(ParseEpoch(kv.key, kv.value).status());
      state.finished = true;
    } else if (name == "checkpoint") {
      WEIR_ASSIGN_OR_RETURN(state.checkpoint, DecodeCheckpoint(shard, kv.key, kv.value));
    }
  }
  return state;
}

Result<std::vector<ShardState>> ShardRegistry::List(int shards) {
  std::vector<ShardState> out;
  for (int n = 0; n < shards; ++n) {
    WEIR_ASSIGN_OR_RETURN(ShardState s, Get(n));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::optional<ShardState>> ShardRegistry::TryClaim(int shard, const std::string& member,
                                                          int64_t lease, bool* owned_elsewhere) {
  if (owned_elsewhere != nullptr) *owned_elsewhere = false;
  const std::string owner_key = ShardPrefix(shard) + "owner";
  const std::string epoch_key = ShardPrefix(shard) + "epoch";
  WEIR_ASSIGN_OR_RETURN(ShardState state, Get(shard));
  if (state.finished) return std::optional<ShardState>();
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> owner, etcd_->Get(owner_key));
  // Ours already (under this lease): a run of ours ended without releasing it (its release
  // failed, etcd being away); claimed again at the next epoch, which fences that run.
  const bool ours = owner && owner->value == member && owner->lease == lease;
  if (owner && !ours) {
    if (owned_elsewhere != nullptr) *owned_elsewhere = true;
    return std::optional<ShardState>();
  }
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> epoch, etcd_->Get(epoch_key));
  const int64_t seen_revision = epoch ? epoch->mod_revision : 0;
  // Nobody else owns it and nobody raised the epoch since we read it: ours, with the next epoch.
  WEIR_ASSIGN_OR_RETURN(bool claimed,
                        etcd_->Txn({ours ? Compare::ModRevision(owner_key, owner->mod_revision)
                                         : Compare::CreateRevision(owner_key, 0),
                                    Compare::ModRevision(epoch_key, seen_revision)},
                                   {Operation::Put(owner_key, member, lease),
                                    Operation::Put(epoch_key, std::to_string(state.epoch + 1))}));
  if (!claimed) {
    if (owned_elsewhere != nullptr) *owned_elsewhere = true;
    return std::optional<ShardState>();
  }
  state.owner = member;
  state.epoch += 1;
  return std::optional<ShardState>(std::move(state));
}

Status ShardRegistry::RecordCheckpoint(int shard, int64_t epoch, uint64_t id,
                                       const std::string& path) {
  const std::string epoch_key = ShardPrefix(shard) + "epoch";
  const std::string key = ShardPrefix(shard) + "checkpoint";
  const std::string value = json{{"epoch", epoch}, {"id", id}, {"path", path}}.dump();
  WEIR_RETURN_IF_ERROR(DecodeCheckpoint(shard, key, value).status());  // never record a bad one
  WEIR_ASSIGN_OR_RETURN(
      bool recorded,
      etcd_->Txn({Compare::Value(epoch_key, std::to_string(epoch))}, {Operation::Put(key, value)}));
  if (!recorded) {
    return Status::FailedPrecondition(
        "shard " + std::to_string(shard) + " is no longer at epoch " + std::to_string(epoch) +
        ": another process claimed it, so checkpoint " + std::to_string(id) + " does not count");
  }
  return Status::OK();
}

Status ShardRegistry::CheckEpoch(int shard, int64_t epoch) {
  WEIR_ASSIGN_OR_RETURN(std::optional<KeyValue> current, etcd_->Get(ShardPrefix(shard) + "epoch"));
  if (!current || current->value != std::to_string(epoch)) {
    return Status::FailedPrecondition("shard " + std::to_string(shard) + " is no longer at epoch " +
                                      std::to_string(epoch) + ": another process claimed it");
  }
  return Status::OK();
}

Status ShardRegistry::MarkFinished(int shard, int64_t epoch) {
  const std::string epoch_key = ShardPrefix(shard) + "epoch";
  WEIR_ASSIGN_OR_RETURN(
      bool marked,
      etcd_->Txn({Compare::Value(epoch_key, std::to_string(epoch))},
                 {Operation::Put(ShardPrefix(shard) + "finished", std::to_string(epoch))}));
  if (!marked) {
    return Status::FailedPrecondition("shard " + std::to_string(shard) + " is no longer at epoch " +
                                      std::to_string(epoch) + ": it cannot be marked finished");
  }
  return Status::OK();
}

Status ShardRegistry::Release(int shard, const std::string& member, int64_t epoch) {
  const std::string owner_key = ShardPrefix(shard) + "owner";
  const std::string epoch_key = ShardPrefix(shard) + "epoch";
  return etcd_
      ->Txn({Compare::Value(owner_key, member), Compare::Value(epoch_key, std::to_string(epoch))},
            {Operation::Delete(owner_key)})
      .status();
}

}  // namespace weir::cluster
