#pragma once

// A doubly-linked list whose links live in its elements: push, pop and removal from anywhere are O(1) and never
// allocate. It does not own its elements, and an element is in at most one list per hook; whether an element is
// listed is for the list's user to know (a flag or an owner pointer next to the hook).

#include <cassert>
#include <cstddef>

namespace tether::util {

// An element's links in one IntrusiveList; null while not listed.
template <typename T>
struct ListHook {
  T* prev = nullptr;
  T* next = nullptr;
};

// The elements of type T linked through their member `Hook`, oldest pushed first.
template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  T* front() const { return head_; }  // null if empty
  T* back() const { return tail_; }   // null if empty

  // `item` must not be in a list through this hook.
  void pushBack(T& item) {
    ListHook<T>& hook = item.*Hook;
    assert(hook.prev == nullptr && hook.next == nullptr && head_ != &item);
    hook.prev = tail_;
    hook.next = nullptr;
    if (tail_ != nullptr) {
      (tail_->*Hook).next = &item;
    } else {
      head_ = &item;
    }
    tail_ = &item;
    ++size_;
  }

  // `item` must be in this list.
  void remove(T& item) {
    ListHook<T>& hook = item.*Hook;
    if (hook.prev != nullptr) {
      (hook.prev->*Hook).next = hook.next;
    } else {
      head_ = hook.next;
    }
    if (hook.next != nullptr) {
      (hook.next->*Hook).prev = hook.prev;
    } else {
      tail_ = hook.prev;
    }
    hook.prev = hook.next = nullptr;
    --size_;
  }

  // The list must not be empty.
  T& popFront() {
    T& item = *head_;
    remove(item);
    return item;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tether::util
