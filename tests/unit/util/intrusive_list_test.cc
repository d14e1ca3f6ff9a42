// IntrusiveList: elements come out in the order they were pushed, removal from the front, the middle or the back
// keeps the others linked, and a removed element can be pushed again.

#include "util/intrusive_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace tether::util {
namespace {

struct Item {
  explicit Item(int v) : value(v) {}
  int value;
  ListHook<Item> hook;
};

using List = IntrusiveList<Item, &Item::hook>;

std::vector<int> drain(List& list) {
  std::vector<int> out;
  while (!list.empty()) out.push_back(list.popFront().value);
  return out;
}

TEST(IntrusiveList, PopsInPushOrder) {
  Item a(1), b(2), c(3);
  List list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.front(), nullptr);
  list.pushBack(a);
  list.pushBack(b);
  list.pushBack(c);
  EXPECT_EQ(list.front(), &a);
  EXPECT_FALSE(List::isLast(b));
  EXPECT_TRUE(List::isLast(c));
  EXPECT_EQ(drain(list), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(list.front(), nullptr);
}

TEST(IntrusiveList, RemovesFromAnywhereAndTakesTheElementBack) {
  Item a(1), b(2), c(3), d(4);
  List list;
  for (Item* item : {&a, &b, &c, &d}) list.pushBack(*item);
  list.remove(b);  // middle
  EXPECT_EQ(b.hook.next, nullptr);
  EXPECT_EQ(b.hook.link, nullptr);
  list.remove(d);  // back
  EXPECT_TRUE(List::isLast(c));
  list.remove(a);  // front
  EXPECT_EQ(list.front(), &c);
  list.pushBack(b);
  list.pushBack(a);
  EXPECT_TRUE(List::isLast(a));
  EXPECT_EQ(drain(list), (std::vector<int>{3, 2, 1}));
}

TEST(IntrusiveList, TheOnlyElementLeavesItEmpty) {
  Item a(1);
  List list;
  list.pushBack(a);
  list.remove(a);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.front(), nullptr);
  list.pushBack(a);
  EXPECT_EQ(drain(list), (std::vector<int>{1}));
}

}  // namespace
}  // namespace tether::util
