// A model of three states (value, list, map of int64) per key, for tests that drive a backend
// with random operations and check it, or a backend restored from it, against the model.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "weir/keyed_state_backend.h"

namespace weir::testing {

class StateModel {
 public:
  // What every state of one key holds.
  struct KeyModel {
    std::optional<int64_t> value;
    std::vector<int64_t> list;
    std::map<int64_t, int64_t> map;
    bool operator==(const KeyModel&) const = default;
  };
  using Model = std::map<uint64_t, KeyModel>;

  struct States {
    ValueState<int64_t>* value;
    ListState<int64_t>* list;
    MapState<int64_t, int64_t>* map;
  };
  static States Register(KeyedStateBackend& b) {
    return {*b.GetValueState(ValueStateDescriptor<int64_t>{"value"}),
            *b.GetListState(ListStateDescriptor<int64_t>{"list"}),
            *b.GetMapState(MapStateDescriptor<int64_t, int64_t>{"map"})};
  }

  // Whether key `k` lies in the backend's key groups.
  static bool Owns(const KeyedStateBackend& b, uint64_t k, std::string* bytes) {
    bytes->clear();
    DefaultSerializer<uint64_t>()->Serialize(k, bytes);
    return b.key_group_range().Contains(AssignToKeyGroup(*bytes, b.max_parallelism()));
  }

  // One random operation on a random key of `keys` (none if the backend does not own it),
  // applied to the backend and the model.
  static void RandomOp(KeyedStateBackend& b, const States& s, Model& model, std::mt19937_64& rng,
                       uint64_t keys) {
    const uint64_t k = rng() % keys;
    std::string bytes;
    if (!Owns(b, k, &bytes)) return;
    ASSERT_TRUE(b.SetCurrentKey(bytes).ok());
    KeyModel& m = model[k];
    const auto x = static_cast<int64_t>(rng() % 1000);
    switch (rng() % 12) {
      case 0:
      case 1:
      case 2:
        ASSERT_TRUE(s.value->Update(x).ok());
        m.value = x;
        break;
      case 3:
        ASSERT_TRUE(s.value->Clear().ok());
        m.value.reset();
        break;
      case 4:
      case 5:
        ASSERT_TRUE(s.list->Add(x).ok());
        m.list.push_back(x);
        break;
      case 6:
        ASSERT_TRUE(s.list->Update({x, x + 1}).ok());
        m.list = {x, x + 1};
        break;
      case 7:
        ASSERT_TRUE(s.list->Clear().ok());
        m.list.clear();
        break;
      case 8:
      case 9:
        ASSERT_TRUE(s.map->Put(x % 8, x).ok());
        m.map[x % 8] = x;
        break;
      case 10:
        ASSERT_TRUE(s.map->Remove(x % 8).ok());
        m.map.erase(x % 8);
        break;
      case 11: {  // reads check as they go (an iteration drains a write-back cache)
        auto value = s.value->Value();
        ASSERT_TRUE(value.ok());
        ASSERT_EQ(*value, m.value) << "key " << k;
        auto entries = s.map->Entries();
        ASSERT_TRUE(entries.ok());
        const std::map<int64_t, int64_t> got(entries->begin(), entries->end());
        ASSERT_EQ(got, m.map) << "key " << k;
        if (x % 5 == 0) {
          ASSERT_TRUE(s.map->Clear().ok());
          m.map.clear();
        }
        break;
      }
    }
  }

  // Every key of the model that the backend owns holds what the model says.
  static void Check(KeyedStateBackend& b, const Model& model) {
    const States s = Register(b);
    for (const auto& [k, m] : model) {
      std::string bytes;
      if (!Owns(b, k, &bytes)) continue;
      ASSERT_TRUE(b.SetCurrentKey(bytes).ok());
      KeyModel got;
      got.value = s.value->Value().value();
      got.list = s.list->Get().value();
      auto entries = s.map->Entries();
      ASSERT_TRUE(entries.ok()) << entries.status().ToString();
      got.map = std::map<int64_t, int64_t>(entries->begin(), entries->end());
      ASSERT_EQ(got, m) << "key " << k;
    }
  }
};

}  // namespace weir::testing
