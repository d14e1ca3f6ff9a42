#pragma once

// A list whose links live in its elements: push, pop and removal from anywhere are O(1) and never allocate. It does
// not own its elements, and an element is in at most one list per hook; whether an element is listed is for the
// list's user to know (a flag or an owner pointer next to the hook), as is how many are. Each element keeps the
// next one and the pointer that points at itself, so pushing takes no branch and removing one.

namespace tether::util {

// An element's links in one IntrusiveList; null while not listed.
template <typename T>
struct ListHook {
  T* next = nullptr;
  T** link = nullptr;  // the pointer that points at this element: the list's head or the previous one's `next`
};

// The elements of type T linked through their member `Hook`, oldest pushed first. Not movable: the last element
// points into it.
template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  T* front() const { return head_; }  // null if empty
  // `item` must be in this list.
  static bool isLast(const T& item) { return (item.*Hook).next == nullptr; }

  // `item` must not be in a list through this hook.
  void pushBack(T& item) {
    ListHook<T>& hook = item.*Hook;
    hook.next = nullptr;
    hook.link = tail_;
    *tail_ = &item;
    tail_ = &hook.next;
  }

  // `item` must be in this list.
  void remove(T& item) {
    ListHook<T>& hook = item.*Hook;
    *hook.link = hook.next;
    if (hook.next != nullptr) {
      (hook.next->*Hook).link = hook.link;
    } else {
      tail_ = hook.link;
    }
    hook.next = nullptr;
    hook.link = nullptr;
  }

  // The list must not be empty.
  T& popFront() {
    T& item = *head_;
    remove(item);
    return item;
  }

 private:
  T* head_ = nullptr;
  T** tail_ = &head_;  // the last element's `next`, or `head_`
};

}  // namespace tether::util
