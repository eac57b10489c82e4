pub mod form;
pub mod layout;
pub mod player;
pub mod share;
pub mod speaker_links;
pub mod talk_card;
pub mod uploader;
pub mod watch_head;
