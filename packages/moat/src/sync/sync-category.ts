/** The two files a site downloads, by their Wafris v2 names. */
export type SyncCategory = 'custom_rules' | 'data_subscriptions';
