#include "xenstore_tree.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace qmin::fake {
namespace {

TEST(TreeTest, ResolveAnchorsRelativePathsAndRejectsJunk) {
  std::string path;
  EXPECT_EQ(Tree::Resolve(5, "data/x", path), 0);
  EXPECT_EQ(path, "/local/domain/5/data/x");
  EXPECT_EQ(Tree::Resolve(0, "/a/b", path), 0);
  for (const char* bad : {"", "/a/", "/a//b", "/a b", "/a\nb", "/a;b"})
    EXPECT_EQ(Tree::Resolve(0, bad, path), EINVAL) << bad;
  EXPECT_EQ(Tree::Resolve(0, "/" + std::string(3072, 'a'), path), EINVAL);
}

TEST(TreeTest, WriteCreatesParentsThatInheritPermissions) {
  Tree tree;
  std::vector<Change> changes;
  ASSERT_EQ(tree.Write(0, "/a/b/c", "v", changes), 0);
  EXPECT_EQ(tree.Dump(),
            "/ = \"\" (n0)\n/a = \"\" (n0)\n/a/b = \"\" (n0)\n/a/b/c = \"v\" (n0)\n"
            "/local = \"\" (n0)\n/local/domain = \"\" (n0)\n/tool = \"\" (n0)\n");
}

TEST(TreeTest, GuestsNeedPermissionAndOwnWhatTheyCreate) {
  Tree tree;
  std::vector<Change> changes;
  ASSERT_EQ(tree.Write(0, "/local/domain/5/data", "", changes), 0);
  ASSERT_EQ(tree.SetPerms(0, "/local/domain/5/data", {{0, 'n'}, {5, 'b'}}, changes), 0);
  EXPECT_EQ(tree.Write(5, "/local/domain/5/name", "x", changes), EACCES);
  EXPECT_EQ(tree.Write(5, "/local/domain/5/data/k", "v", changes), 0);
  std::vector<Perm> perms;
  ASSERT_EQ(tree.GetPerms(0, "/local/domain/5/data/k", perms), 0);
  EXPECT_EQ(perms, (std::vector<Perm>{{5, 'n'}, {5, 'b'}}));
  std::string value;
  EXPECT_EQ(tree.Read(6, "/local/domain/5/data/k", value), EACCES);
  EXPECT_EQ(tree.Remove(6, "/local/domain/5/data/k", changes), EACCES);
  EXPECT_EQ(tree.SetPerms(6, "/local/domain/5/data/k", {{6, 'b'}}, changes), EACCES);
}

TEST(TreeTest, RemoveTakesTheSubtreeAndMissingIsFine) {
  Tree tree;
  std::vector<Change> changes;
  ASSERT_EQ(tree.Write(0, "/a/b", "1", changes), 0);
  ASSERT_EQ(tree.Remove(0, "/a", changes), 0);
  EXPECT_FALSE(tree.Exists("/a/b"));
  EXPECT_EQ(tree.Remove(0, "/a", changes), 0);
  EXPECT_EQ(tree.Remove(0, "/x/y", changes), ENOENT);
  EXPECT_EQ(tree.Remove(0, "/", changes), EINVAL);
}

TEST(TreeTest, DirectoryListsOnlyDirectChildren) {
  Tree tree;
  std::vector<Change> changes;
  ASSERT_EQ(tree.Write(0, "/d/a/x", "", changes), 0);
  ASSERT_EQ(tree.Write(0, "/d/b", "", changes), 0);
  ASSERT_EQ(tree.Write(0, "/dd", "", changes), 0);
  std::vector<std::string> names;
  ASSERT_EQ(tree.Directory(0, "/d", names), 0);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
}

TEST(WatchMatchesTest, PathItselfBelowAndRemovedAbove) {
  EXPECT_TRUE(WatchMatches("/a", {"/a", false}));
  EXPECT_TRUE(WatchMatches("/a", {"/a/b", false}));
  EXPECT_FALSE(WatchMatches("/a", {"/ab", false}));
  EXPECT_FALSE(WatchMatches("/a/b", {"/a", false}));
  EXPECT_TRUE(WatchMatches("/a/b", {"/a", true}));
  EXPECT_FALSE(WatchMatches("@releaseDomain", {"/a", true}));
}

TEST(PermTest, ParseAndFormat) {
  Perm perm;
  ASSERT_TRUE(ParsePerm("r5", perm));
  EXPECT_EQ(perm, (Perm{5, 'r'}));
  EXPECT_EQ(FormatPerm(Perm{0, 'b'}), "b0");
  for (const char* bad : {"", "r", "x5", "r-1", "r65536"})
    EXPECT_FALSE(ParsePerm(bad, perm)) << bad;
}

}  // namespace
}  // namespace qmin::fake
