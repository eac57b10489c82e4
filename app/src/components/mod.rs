pub mod form;
pub mod layout;
pub mod talk_card;
pub mod uploader;
