#include <gtest/gtest.h>

#include "tokenops/cache/guard.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops::cache;

namespace {
std::vector<std::string> V(std::initializer_list<const char*> xs) { return {xs.begin(), xs.end()}; }
}  // namespace

TEST(CacheGuard, NumbersAreNormalised) {
  Signature s = signature("Pay 1,000 dollars, 2.50 euros, 3.0 pounds and 007 yen by 2024-01-05.");
  EXPECT_EQ(s.numbers, V({"1", "1000", "2.50", "2024", "3", "5", "7"}));
  EXPECT_EQ(mismatch("What is 15% of 80?", "What's 15 percent of 80?", kGuardNumbers), 0u);
  EXPECT_EQ(mismatch("What is 15% of 80?", "What is 15% of 90?", kGuardNumbers), kGuardNumbers);
  EXPECT_EQ(mismatch("Is the iPhone 12 waterproof?", "Is the iPhone 13 waterproof?", kGuardAll), kGuardNumbers);
  EXPECT_EQ(mismatch("a 1,000-word essay", "a 1000 word essay", kGuardNumbers), 0u);
}

TEST(CacheGuard, NumbersKeepWhatChangesTheAnswer) {
  // letters right after the digits, signs, versions, a leading point, thousands groups of three
  EXPECT_EQ(signature("5am 10K GPT-4o -3 \xE2\x88\x92" "4 .5 3.10 1.0.0 1,2 12,345 3.00 5-10").numbers,
            V({"-3", "-4", "0.5", "1", "1.0.0", "10", "10k", "12345", "2", "3", "3.10", "4o", "5", "5am"}));
  EXPECT_EQ(mismatch("Set an alarm for 5am", "Set an alarm for 5pm", kGuardAll), kGuardNumbers);
  EXPECT_EQ(mismatch("a salary of 10k", "a salary of 10M", kGuardAll), kGuardNumbers);
  EXPECT_EQ(mismatch("What's new in Python 3.10?", "What's new in Python 3.1?", kGuardAll), kGuardNumbers);
  EXPECT_EQ(mismatch("What is -5 squared?", "What is 5 squared?", kGuardAll), kGuardNumbers);
  EXPECT_EQ(mismatch("Is GPT-4 good?", "Is GPT 4 good?", kGuardNumbers), 0u);
  EXPECT_EQ(mismatch("It costs 1,000,000", "It costs 1000000", kGuardNumbers), 0u);
  EXPECT_EQ(mismatch("version 3.0", "version 3", kGuardNumbers), 0u);
  // linear on separator runs: 200,000 numbers "1"
  std::string ones;
  for (int k = 0; k < 200000; ++k) ones += "1,";
  EXPECT_EQ(signature(ones).numbers, V({"1"}));
}

TEST(CacheGuard, Negation) {
  EXPECT_TRUE(signature("Which foods are not vegan?").negated);
  EXPECT_TRUE(signature("Why can't I sleep?").negated);
  EXPECT_TRUE(signature("Why can\xE2\x80\x99t I sleep?").negated);  // curly apostrophe
  EXPECT_TRUE(signature("why cant i sleep").negated);
  EXPECT_FALSE(signature("Nothingness and knots: a note").negated);
  EXPECT_EQ(mismatch("Which foods are not vegan?", "Which foods are vegan?", kGuardAll), kGuardNegation);
  EXPECT_EQ(mismatch("Isn't it late?", "Is it not late?", kGuardNegation), 0u);
}

TEST(CacheGuard, Entities) {
  Signature s = signature("How do I learn Python fast? NASA and the iPhone. I think I'm done.");
  EXPECT_EQ(s.entities, V({"iphone", "nasa", "python"}));  // "How" and "I" start sentences / are I
  EXPECT_EQ(mismatch("How do I learn Python?", "How do I learn Java?", kGuardAll), kGuardEntities);
  // a name the other prompt has as a word, in any case, is no mismatch
  EXPECT_EQ(mismatch("How do I learn Python?", "how can i learn python quickly", kGuardAll), 0u);
  EXPECT_EQ(mismatch("What did Donald Trump say?", "What did Trump say?", kGuardEntities), kGuardEntities);
  // possessives are their nouns
  EXPECT_EQ(mismatch("What is the star count for YAF's framework?", "What is the star count for the YAF framework?",
                     kGuardAll),
            0u);
  EXPECT_EQ(mismatch("What is the capital of France?", "What's the capital of Germany?", kGuardAll),
            kGuardEntities);
  // sentence-initial capitals are not names
  EXPECT_EQ(mismatch("Tell me a joke. Please make it short.", "tell me a joke, please make it short", kGuardAll),
            0u);
  // ...but a period after an abbreviation or an initial ends no sentence
  EXPECT_EQ(signature("Which language, e.g. Python or Rust, is fastest?").entities, V({"python", "rust"}));
  EXPECT_EQ(signature("Is Dr. Smith in? Ask Mr. Jones vs. Mrs. Brown.").entities, V({"brown", "jones", "smith"}));
  EXPECT_EQ(signature("Who is J. K. Rowling?").entities, V({"j"}));  // capital initials still end one
  EXPECT_EQ(mismatch("Which is faster, e.g. Python?", "Which is faster, e.g. Java?", kGuardEntities), kGuardEntities);
  // a word merely ending in one of those letters still ends its sentence
  EXPECT_EQ(signature("Set the stage. Then act.").entities, V({}));
  EXPECT_EQ(signature("I got an A. Great!").entities, V({"a"}));  // "Great" starts a sentence
}

TEST(CacheGuard, Quoted) {
  Signature s = signature("Translate \"good morning\" and \xE2\x80\x9Cthanks\xE2\x80\x9D; run `ls -la` then ```\nx = 1\n```");
  EXPECT_EQ(s.quoted, V({"good morning", "ls -la", "thanks", "x = 1"}));
  EXPECT_EQ(mismatch("Translate \"I love cats\" to French", "Translate \"I love dogs\" to French", kGuardQuoted),
            kGuardQuoted);
  EXPECT_EQ(mismatch("Say \"hi\"", "Say \"hi\" please", kGuardQuoted), 0u);
  // the same phrase quoted in one prompt only, in any case: no mismatch
  EXPECT_EQ(mismatch("Do you understand \"Milvus\"?", "Do you understand milvus?", kGuardQuoted), 0u);
  EXPECT_EQ(mismatch("Explain `git  rebase`", "explain GIT REBASE to me", kGuardQuoted), 0u);
  EXPECT_EQ(mismatch("Is \"1111\" valid?", "Is 111 valid?", kGuardQuoted), kGuardQuoted);
  // a quotation that is the whole prompt is the question, not a payload
  EXPECT_TRUE(signature("\"What is GitHub?\"?").quoted.empty());
  EXPECT_EQ(mismatch("\"What is GitHub?\"?", "Can you explain what GitHub is?", kGuardAll), 0u);
  EXPECT_TRUE(signature("an unmatched \" quote").quoted.empty());
}

TEST(CacheGuard, OnlyRequestedGuardsAndBadInput) {
  EXPECT_EQ(mismatch("not 5 Paris", "6 London", 0), 0u);
  EXPECT_EQ(mismatch("not 5 Paris", "6 London", kGuardAll), kGuardNumbers | kGuardNegation | kGuardEntities);
  EXPECT_EQ(mismatch("", "", kGuardAll), 0u);
  EXPECT_THROW(signature(std::string("ab\xC3", 3)), tokenops::InvalidArgument);
  // digits of other scripts are numbers: fullwidth, Arabic-Indic, Devanagari, mathematical bold
  EXPECT_EQ(signature("\xEF\xBC\x92\xEF\xBC\x90\xEF\xBC\x92\xEF\xBC\x94\xE5\xB9\xB4").numbers, V({"2024"}));
  EXPECT_EQ(signature("\xD9\xA3\xD9\xA7 and \xE0\xA5\xAA\xE0\xA5\xAB").numbers, V({"37", "45"}));
  EXPECT_EQ(signature("\xF0\x9D\x9F\x8F\xF0\x9D\x9F\x97").numbers, V({"19"}));  // U+1D7CF U+1D7D7
  EXPECT_EQ(mismatch("\xEF\xBC\x92\xEF\xBC\x90\xEF\xBC\x92\xEF\xBC\x94\xE5\xB9\xB4", "2024\xE5\xB9\xB4", kGuardNumbers), 0u);
  // CJK runs are words; numbers inside them still count
  EXPECT_EQ(mismatch("\xE4\xBB\x8A\xE5\xB9\xB4""2024\xE5\xB9\xB4", "\xE4\xBB\x8A\xE5\xB9\xB4""2025\xE5\xB9\xB4", kGuardAll),
            kGuardNumbers);
}

TEST(CacheGuard, LinearOnHugeInput) {
  std::string big(2'000'000, '"');
  big += std::string(1'000'000, '`');
  Signature s = signature(big);
  EXPECT_TRUE(s.quoted.empty());
  std::string openers;
  for (int k = 0; k < 500'000; ++k) openers += "\xE2\x80\x9C";  // unmatched curly quotes
  EXPECT_TRUE(signature(openers).quoted.empty());
  // many distinct quoted spans against a long text: at most 64 passes over it, then a mismatch
  std::string spans, hay(1'000'000, 'a');
  for (int k = 0; k < 20'000; ++k) spans += "\"a" + std::to_string(k) + "b\" ";
  EXPECT_EQ(tokenops::cache::mismatch(std::string_view(spans), std::string_view(hay), kGuardQuoted), kGuardQuoted);
  std::string digits(1'000'000, '7');
  EXPECT_EQ(signature(digits).numbers.size(), 1u);
}
